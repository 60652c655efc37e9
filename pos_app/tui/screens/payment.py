"""What the QR and scan screens share: following one payment until it is final."""

from __future__ import annotations

import asyncio

from textual import on

from pos_app.api.schemas import PaymentView
from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.terminal.sales import Attempt
from pos_app.tui.messages import PaymentUpdated
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.result import ResultScreen


class PaymentScreen(TillScreen):
    """A screen that follows ``self.attempt``; subclasses draw it in :meth:`show_view`."""

    attempt: Attempt | None = None
    done: bool = False

    def show_view(self, view: PaymentView) -> None:
        raise NotImplementedError

    @on(PaymentUpdated)
    def payment_updated(self, message: PaymentUpdated) -> None:
        attempt = self.attempt
        if attempt is None or message.view.out_trade_no != attempt.out_trade_no:
            return
        self.accept_view(message.view)

    def accept_view(self, view: PaymentView) -> None:
        """Take a newer view of our payment (never step back: late polls are ignored)."""
        attempt = self.attempt
        assert attempt is not None
        if view.out_trade_no != attempt.out_trade_no:
            return  # an answer about an earlier sale this screen showed
        if attempt.view is not None and attempt.view.state in SETTLED_STATES and view.state not in SETTLED_STATES:
            return
        if self.done:
            return
        attempt.view = view
        if view.state is PaymentState.FAILED:
            self.till.recheck_channels()  # perhaps its channel's breaker just opened: grey its key now
        self.show_view(view)
        if view.state in SETTLED_STATES:
            self.done = True
            self.finished(view)

    def finished(self, view: PaymentView) -> None:
        """The payment is decided: PAID goes to the result screen; other ends stay for the cashier."""
        if view.state == PaymentState.PAID and self.is_current:
            assert self.attempt is not None
            self.app.switch_screen(ResultScreen(self.till.receipt_for(self.attempt)))

    async def follow(self) -> None:
        """Poll the engine as a fallback: the event stream usually brings the news first."""
        assert self.attempt is not None
        while not self.done:
            await asyncio.sleep(self.pos.poll_interval_s)
            try:
                view = await self.till.refresh(self.attempt)
            except Exception:
                continue  # offline for a moment: the status bar says so; keep following
            self.accept_view(view)
