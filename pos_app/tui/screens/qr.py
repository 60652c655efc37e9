"""Native QR: the order's code drawn on screen for the customer's phone, the amount large, a
countdown to expiry, the live status. Escape cancels (closes the order at the gateway).
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Static

from pos_app.api.schemas import PaymentView
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.sales import Attempt
from pos_app.terminal.text import STATE_WORDS, countdown, remaining_seconds
from pos_app.tui.screens.payment import PaymentScreen
from pos_app.tui.widgets.qr_view import QrView

#: The name the app's one QR screen is installed under (see QrScreen.for_sale).
SCREEN_NAME = "qr"
#: Ends after which the order's QR is taken off the screen.
CLOSED_STATES = frozenset({PaymentState.CLOSED, PaymentState.FAILED, PaymentState.REVERSED})
CLOSED_MESSAGE = "Order closed — no QR"


class QrScreen(PaymentScreen):
    HEADING = "Customer scans this QR"
    KEYS = "Esc cancel (closes the order) · Enter done when final · F1 help"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "done", "Done"),
    ]

    def __init__(
        self,
        draft: SaleDraft,
        channel: Channel,
        *,
        starting: asyncio.Future[Attempt] | None = None,
        attempt: Attempt | None = None,
    ) -> None:
        """``starting`` resolves to the attempt once the engine answered; ``attempt`` is that attempt
        known earlier (its intent is journaled), so an event about it can draw the QR first."""
        super().__init__()
        self.draft = draft
        self.channel = channel
        self.starting = starting
        self.attempt = attempt
        #: Shown before, now showing another sale (see reset and on_screen_resume).
        self.reused = False

    @classmethod
    def for_sale(cls, app: App[Any], attempt: Attempt, sending: asyncio.Future[Attempt]) -> QrScreen:
        """The app's one QR screen, made ready for this sale: built the first time, then reused.

        Building a screen (compose, styles, mounting a dozen widgets) is the costliest thing the
        terminal does between the cashier's key and the code on screen; a reused screen only has
        its texts replaced. Installed, it stays mounted when popped.
        """
        try:
            screen = app.get_screen(SCREEN_NAME)
        except KeyError:
            screen = cls(attempt.draft, attempt.channel, starting=sending, attempt=attempt)
            app.install_screen(screen, SCREEN_NAME)
            return screen
        assert isinstance(screen, QrScreen)
        screen.reset(attempt, sending)
        return screen

    @staticmethod
    def code_area(app: App[Any]) -> tuple[int, int]:
        """(columns, rows) for the code beside the amount panel."""
        return max(20, app.size.width - 34), max(8, app.size.height - 3)

    def reset(self, attempt: Attempt, starting: asyncio.Future[Attempt]) -> None:
        """Show a new sale on this (already built) screen and follow its order."""
        # The last sale's workers (a poll in flight, a cancel) must not touch this one.
        self.workers.cancel_node(self)
        self.reused = True
        self.draft, self.channel, self.starting = attempt.draft, attempt.channel, starting
        self.attempt, self.done = attempt, False
        self.query_one("#qr-code", QrView).reset("Creating the order…", *self.code_area(self.app))
        self.show_sale()
        self.create_order()

    def show_sale(self) -> None:
        """The sale's texts, as they are before the engine has answered."""
        self.query_one("#qr-channel", Static).update(self.channel.label)
        self.query_one("#qr-amount", Digits).update(format_fen(self.draft.amount_fen).lstrip("¥"))
        self.query_one("#qr-subject", Static).update(self.draft.subject)
        self.query_one("#qr-countdown", Static).update("")
        state = self.query_one("#qr-state", Static)
        state.update(STATE_WORDS[PaymentState.CREATED])
        state.set_classes("big-state")
        self.query_one("#qr-order", Static).update(f"Order {self.attempt.out_trade_no}" if self.attempt else "")
        self.query_one("#keys", Static).update(self.KEYS)

    def body(self) -> ComposeResult:
        with Horizontal(id="qr-layout"):
            # The code's area is laid out now, while the order is being created: the code drops in later.
            width, rows = self.code_area(self.app)
            yield Vertical(QrView("Creating the order…", max_width=width, max_rows=rows, id="qr-code"), id="qr-box")
            with Vertical(id="qr-info"):  # filled by show_sale
                yield Static(id="qr-channel", classes="ok")
                yield Digits(id="qr-amount")
                yield Static(id="qr-subject")
                yield Static(id="qr-countdown")
                yield Static(id="qr-state")
                yield Static(id="qr-order", classes="hint")

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Skip Textual's restyling of the whole screen when the reused screen comes back.

        Textual re-applies the stylesheet to every widget of a screen it resumes, in case something
        changed while it was hidden; measured, about 12 ms of the cashier's path from the key to the
        QR. Nothing does here: the till has one theme, the screen has nothing to hover or focus, and
        a class this screen changes (the state's colour) restyles that widget when it is set. (This
        handler runs before Textual's own, which reads the flag.)
        """
        if self.reused:
            event.refresh_styles = False

    def on_mount(self) -> None:
        self.show_sale()
        self.create_order()
        self.set_interval(0.5, self.tick)

    @work(exclusive=True, group="payment", exit_on_error=False)
    async def create_order(self) -> None:
        if self.starting is not None:
            attempt = await self.starting
        else:
            attempt = await self.till.start_native(self.draft, self.channel)
        if self.attempt is None or self.attempt.out_trade_no != attempt.out_trade_no:
            self.query_one("#qr-order", Static).update(f"Order {attempt.out_trade_no}")
        self.attempt = attempt  # (the order number is on screen already when the intent was known)
        view = attempt.view
        if view is not None:
            # The engine's event about this order may have drawn it already: then this changes nothing.
            self.accept_view(view)
            # The QR is drawn first; the engine's answer is journaled right after it is on screen.
            self.call_after_refresh(self.till.apply_view, view)
        elif attempt.error:
            # The outcome is unknown (the engine did not answer): say so; following keeps asking.
            state = self.query_one("#qr-state", Static)
            state.update(f"{attempt.error} Still trying…")
            state.set_classes("big-state failed")
        self.follow_worker()

    @work(exclusive=True, group="follow", exit_on_error=False)
    async def follow_worker(self) -> None:
        await self.follow()

    def worker_failed(self, error: BaseException) -> None:
        self.query_one("#qr-state", Static).update("Could not create the order — Esc to go back")
        self.query_one("#qr-state", Static).set_classes("big-state failed")

    def show_view(self, view: PaymentView) -> None:
        qr = self.query_one("#qr-code", QrView)
        if view.code_url and qr.data != view.code_url and view.state not in CLOSED_STATES:
            qr.show_code(view.code_url)
        state = self.query_one("#qr-state", Static)
        words = STATE_WORDS[view.state]
        if view.state == PaymentState.FAILED and view.failure_reason:
            words = f"FAILED — {view.failure_reason}"
        # The state's box has a fixed size (.big-state): new words need no layout pass, which would
        # re-render the whole screen on the cashier's path just as the code is being drawn.
        state.update(words, layout=False)
        css = {PaymentState.PAID: "paid", PaymentState.FAILED: "failed", PaymentState.CLOSED: "canceled"}
        state.set_classes(f"big-state {css.get(view.state, '')}".strip())
        if view.state in CLOSED_STATES:
            # A closed order's QR must not stay where a customer could still scan it (nor the
            # "creating" message when it never got one).
            if qr.shown or qr.message != CLOSED_MESSAGE:
                qr.show_message(CLOSED_MESSAGE)
            self.query_one("#keys", Static).update("Enter back to checkout · F1 help")

    def tick(self) -> None:
        view = self.attempt.view if self.attempt else None
        if view is None or view.state not in {PaymentState.AWAITING_SCAN, PaymentState.USER_PAYING}:
            self.query_one("#qr-countdown", Static).update("", layout=False)
            return
        left = remaining_seconds(view.expires_at, self.till.clock())
        if left is None:
            return
        # One line of fixed height (see the stylesheet): no layout pass twice a second.
        self.query_one("#qr-countdown", Static).update(f"Expires in {countdown(left)}", layout=False)
        if left <= 0 and not self.done:
            self.cancel_order("expired")

    @work(exclusive=True, group="cancel", exit_on_error=False)
    async def cancel_order(self, reason: str) -> None:
        if self.attempt is None:
            self.dismiss_to_checkout()
            return
        view = await self.till.cancel(self.attempt, reason=reason)
        self.accept_view(view)

    def action_cancel(self) -> None:
        if self.starting is not None and not self.starting.done() and not self.done:
            # Closing an order whose creation is still on its way could race it: wait for the answer.
            self.notify("The order is still being created — cancel it once its QR is shown.", severity="warning")
            return
        if self.done or self.attempt is None:
            self.dismiss_to_checkout()
            return
        self.query_one("#qr-state", Static).update("Cancelling…")
        self.cancel_order("cashier cancelled")

    def action_done(self) -> None:
        if self.done:
            self.dismiss_to_checkout()

    def dismiss_to_checkout(self) -> None:
        self.app.pop_screen()
