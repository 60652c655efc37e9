"""Scan payment: the customer's payment code from the USB scanner, typed by hand, or read from a
picture; routed to WeChat or Alipay by its prefix, sent once, followed to PAID, FAILED or CANCELED.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Digits, Static

from pos_app.api.schemas import PaymentView
from pos_app.domain.errors import PosError
from pos_app.domain.money import format_fen
from pos_app.domain.routing import RoutedCode, route_auth_code
from pos_app.domain.states import PaymentState
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.text import STATE_WORDS, countdown, remaining_seconds
from pos_app.terminal.wedge import WedgeClassifier
from pos_app.tui.modals.text import TextModal
from pos_app.tui.screens.payment import PaymentScreen


class ScanScreen(PaymentScreen):
    HEADING = "Scan the customer's payment code"
    KEYS = "scan or type the code + Enter · f picture file · r retry · Esc back · F1 help"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "image", "Picture"),
        Binding("r", "retry", "Retry"),
    ]

    def __init__(self, draft: SaleDraft, *, routed: RoutedCode | None = None) -> None:
        super().__init__()
        self.draft = draft
        self.initial = routed
        self.wedge = WedgeClassifier()
        self.sending = False

    def body(self) -> ComposeResult:
        with Vertical():
            yield Digits(format_fen(self.draft.amount_fen).lstrip("¥"), id="scan-amount")
            yield Static(self.draft.subject, classes="hint")
            yield Static("Waiting for a code…", id="scan-code")
            yield Static("", id="scan-countdown")
            yield Static("Scan the code on the customer's phone", id="scan-state", classes="big-state")
            yield Static("", id="scan-order", classes="hint")

    def on_mount(self) -> None:
        self.wedge.max_gap_s = self.pos.wedge_max_gap_s
        self.set_interval(0.5, self.tick)
        if self.initial is not None:
            self.submit(self.initial, "scanner")

    # -- code entry -----------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        if self.attempt is not None:
            return  # a code was sent: nothing typed now may send another
        now = time.monotonic()
        if event.key == "enter":
            event.stop()
            line = self.wedge.enter(now)
            self.entered(line.text, line.source)
        elif event.key == "backspace":
            event.stop()
            self.wedge.backspace()
            self.show_typed()
        elif event.character is not None and event.character.isdigit():
            event.stop()
            self.wedge.key(event.character, now)
            self.show_typed()

    def show_typed(self) -> None:
        text = self.wedge.text
        self.query_one("#scan-code", Static).update(text or "Waiting for a code…")

    def entered(self, text: str, source: str) -> None:
        try:
            routed = route_auth_code(text)
        except PosError as exc:
            self.set_state(exc.message, "failed")
            self.query_one("#scan-code", Static).update("Waiting for a code…")
            return
        self.submit(routed, source)

    def action_image(self) -> None:
        if self.attempt is not None:
            return

        def chosen(path: str | None) -> None:
            if path:
                self.read_image(Path(path).expanduser())

        self.app.push_screen(TextModal("Picture of the payment code (file path)", ""), chosen)

    @work(exclusive=True, group="image", exit_on_error=False, thread=True)
    def read_image(self, path: Path) -> None:
        from pos_app.scan import decode_payment_code

        routed = decode_payment_code(path)
        self.app.call_from_thread(self.submit, routed, "image")

    # -- sending --------------------------------------------------------------------------------

    def submit(self, routed: RoutedCode, source: str) -> None:
        if self.attempt is not None or self.sending:
            return
        self.sending = True
        self.query_one("#scan-code", Static).update(f"{routed.channel.label} code {routed.masked} ({source})")
        self.set_state("Sending…", "")
        self.send(routed)

    @work(exclusive=True, group="payment", exit_on_error=False)
    async def send(self, routed: RoutedCode) -> None:
        try:
            self.attempt = await self.till.start_micropay(self.draft, routed)
        finally:
            self.sending = False
        self.query_one("#scan-order", Static).update(f"Order {self.attempt.out_trade_no}")
        if self.attempt.view is not None:
            self.accept_view(self.attempt.view)
        elif self.attempt.error:
            self.set_state(f"{self.attempt.error} (r to retry the same order)", "failed")
        if not self.done and self.attempt.view is not None:
            self.follow_worker()

    @work(exclusive=True, group="follow", exit_on_error=False)
    async def follow_worker(self) -> None:
        await self.follow()

    def action_retry(self) -> None:
        """Send the SAME order again (same out_trade_no, same code): the engine answers idempotently."""
        if self.attempt is None or self.attempt.view is not None or self.sending:
            return
        self.sending = True
        self.set_state("Sending again…", "")
        self.resend()

    @work(exclusive=True, group="payment", exit_on_error=False)
    async def resend(self) -> None:
        assert self.attempt is not None
        try:
            await self.till.resend(self.attempt)
        finally:
            self.sending = False
        if self.attempt.view is not None:
            self.accept_view(self.attempt.view)
            if not self.done:
                self.follow_worker()
        elif self.attempt.error:
            self.set_state(f"{self.attempt.error} (r to retry the same order)", "failed")

    def worker_failed(self, error: BaseException) -> None:
        message = getattr(error, "message", None) or "The payment could not be sent."
        self.set_state(message, "failed")

    # -- showing ----------------------------------------------------------------------------------

    def set_state(self, text: str, css: str) -> None:
        state = self.query_one("#scan-state", Static)
        state.update(text)
        state.set_classes(f"big-state {css}".strip())

    def show_view(self, view: PaymentView) -> None:
        words = STATE_WORDS[view.state]
        if view.state == PaymentState.FAILED:
            words = f"FAILED — {view.failure_reason or 'the wallet refused the payment'}"
        elif view.state in {PaymentState.CLOSED, PaymentState.REVERSED}:
            words = "CANCELED — no money was taken"
        css = {
            PaymentState.PAID: "paid",
            PaymentState.FAILED: "failed",
            PaymentState.CLOSED: "canceled",
            PaymentState.REVERSED: "canceled",
        }.get(view.state, "")
        self.set_state(words, css)
        if view.state in {PaymentState.FAILED, PaymentState.CLOSED, PaymentState.REVERSED}:
            self.query_one("#keys", Static).update("Esc back to checkout (new code = new order) · F1 help")

    def tick(self) -> None:
        view = self.attempt.view if self.attempt else None
        label = self.query_one("#scan-countdown", Static)
        if view is None or view.state not in {PaymentState.USER_PAYING, PaymentState.SUBMITTED, PaymentState.UNKNOWN}:
            label.update("")
            return
        left = remaining_seconds(view.deadline_at, self.till.clock())
        label.update("" if left is None else f"Time left {countdown(left)}")

    def action_back(self) -> None:
        if self.attempt is not None and self.attempt.view is None:
            self.notify("The order stays open; it is settled with the engine before the next wallet sale.")
        elif self.attempt is not None and not self.done:
            self.notify("The payment is still open — wait for the result.", severity="warning")
            return
        self.app.pop_screen()
