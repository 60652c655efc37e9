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
            yield Vertical(Static("Creating the order…", id="qr-placeholder"), id="qr-box")
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
        if self.attempt.view is not None:
            self.accept_view(self.attempt.view)
        self.follow_worker()

    @work(exclusive=True, group="follow", exit_on_error=False)
    async def follow_worker(self) -> None:
        await self.follow()

    def worker_failed(self, error: BaseException) -> None:
        self.query_one("#qr-state", Static).update("Could not create the order — Esc to go back")
        self.query_one("#qr-state", Static).set_classes("big-state failed")

    def show_view(self, view: PaymentView) -> None:
        if view.code_url and not self.query("#qr-code"):
            box = self.query_one("#qr-box", Vertical)
            rows = max(8, self.app.size.height - 3)
            width = max(20, self.app.size.width - 34)
            self.query_one("#qr-placeholder", Static).remove()
            box.mount(QrView(view.code_url, max_width=width, max_rows=rows, id="qr-code"))
        state = self.query_one("#qr-state", Static)
        words = STATE_WORDS[view.state]
        if view.state == PaymentState.FAILED and view.failure_reason:
            words = f"FAILED — {view.failure_reason}"
        state.update(words)
        css = {PaymentState.PAID: "paid", PaymentState.FAILED: "failed", PaymentState.CLOSED: "canceled"}
        state.set_classes(f"big-state {css.get(view.state, '')}".strip())
        if view.state in {PaymentState.CLOSED, PaymentState.FAILED, PaymentState.REVERSED}:
            # A closed order's QR must not stay where a customer could still scan it.
            for qr in self.query("#qr-code"):
                qr.remove()
                self.query_one("#qr-box", Vertical).mount(Static("Order closed — no QR", classes="hint"))
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
