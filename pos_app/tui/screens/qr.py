"""Native QR: the order's code drawn on screen for the customer's phone, the amount large, a
countdown to expiry, the live status. Escape cancels (closes the order at the gateway).
"""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Static

from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.schemas import PaymentView
from pos_app.tui.logic.text import STATE_WORDS, countdown, remaining_seconds
from pos_app.tui.screens.payment import PaymentScreen
from pos_app.tui.till import Attempt, SaleDraft
from pos_app.tui.widgets.qr_view import QrView

#: Ends after which the order's QR is taken off the screen.
CLOSED_STATES = frozenset({PaymentState.CLOSED, PaymentState.FAILED, PaymentState.REVERSED})


class QrScreen(PaymentScreen):
    HEADING = "Customer scans this QR"
    KEYS = "Esc cancel (closes the order) · Enter done when final · F1 help"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "done", "Done"),
    ]

    def __init__(self, draft: SaleDraft, channel: Channel, *, starting: asyncio.Future[Attempt] | None = None) -> None:
        super().__init__()
        self.draft = draft
        self.channel = channel
        self.starting = starting

    def body(self) -> ComposeResult:
        with Horizontal(id="qr-layout"):
            # The code's area is laid out now, while the order is being created: the code drops in later.
            rows = max(8, self.app.size.height - 3)
            width = max(20, self.app.size.width - 34)
            yield Vertical(QrView("Creating the order…", max_width=width, max_rows=rows, id="qr-code"), id="qr-box")
            with Vertical(id="qr-info"):
                yield Static(f"{self.channel.label}", id="qr-channel", classes="ok")
                yield Digits(format_fen(self.draft.amount_fen).lstrip("¥"), id="qr-amount")
                yield Static(self.draft.subject, id="qr-subject")
                yield Static("", id="qr-countdown")
                yield Static(STATE_WORDS[PaymentState.CREATED], id="qr-state", classes="big-state")
                yield Static("", id="qr-order", classes="hint")

    def on_mount(self) -> None:
        self.create_order()
        self.set_interval(0.5, self.tick)

    @work(exclusive=True, group="payment", exit_on_error=False)
    async def create_order(self) -> None:
        if self.starting is not None:
            self.attempt = await self.starting
        else:
            self.attempt = await self.till.start_native(self.draft, self.channel)
        self.query_one("#qr-order", Static).update(f"Order {self.attempt.out_trade_no}")
        view = self.attempt.view
        if view is not None:
            self.accept_view(view)
            # The QR is drawn first; the engine's answer is journaled right after it is on screen.
            self.call_after_refresh(self.till.apply_view, view)
        elif self.attempt.error:
            # The outcome is unknown (the engine did not answer): say so; following keeps asking.
            state = self.query_one("#qr-state", Static)
            state.update(f"{self.attempt.error} Still trying…")
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
        state.update(words)
        css = {PaymentState.PAID: "paid", PaymentState.FAILED: "failed", PaymentState.CLOSED: "canceled"}
        state.set_classes(f"big-state {css.get(view.state, '')}".strip())
        if view.state in CLOSED_STATES:
            # A closed order's QR must not stay where a customer could still scan it.
            if qr.shown:
                qr.show_message("Order closed — no QR")
            self.query_one("#keys", Static).update("Enter back to checkout · F1 help")

    def tick(self) -> None:
        view = self.attempt.view if self.attempt else None
        if view is None or view.state not in {PaymentState.AWAITING_SCAN, PaymentState.USER_PAYING}:
            self.query_one("#qr-countdown", Static).update("")
            return
        left = remaining_seconds(view.expires_at, self.till.clock())
        if left is None:
            return
        self.query_one("#qr-countdown", Static).update(f"Expires in {countdown(left)}")
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
