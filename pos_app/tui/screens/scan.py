"""Scan payment: the customer's payment code from the USB scanner, typed by hand, or read from a
picture; routed to WeChat or Alipay by its prefix, sent once, followed to PAID, FAILED or CANCELED.
After a refusal or a FAILED payment the next code scanned starts a new attempt: a new order number,
the same amount.
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
from pos_app.i18n import N_, _
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.text import STATE_WORDS, countdown, remaining_seconds
from pos_app.terminal.wedge import WedgeClassifier
from pos_app.tui.modals.text import TextModal
from pos_app.tui.screens.payment import PaymentScreen

#: A payment that ended without money moving: the next code scanned is a new attempt.
ENDED_UNPAID = frozenset({PaymentState.FAILED, PaymentState.CLOSED, PaymentState.REVERSED})
WAITING = N_("Waiting for a code…")


class ScanScreen(PaymentScreen):
    HEADING = N_("Scan the customer's payment code")
    KEYS = N_("scan or type the code + Enter · f picture file · r retry · Esc back · F1 help")
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
            yield Static(_(WAITING), id="scan-code")
            yield Static("", id="scan-countdown")
            yield Static(_("Scan the code on the customer's phone"), id="scan-state", classes="big-state")
            yield Static("", id="scan-order", classes="hint")

    def on_mount(self) -> None:
        self.wedge.max_gap_s = self.pos.wedge_max_gap_s
        self.set_interval(0.5, self.tick)
        if self.initial is not None:
            self.submit(self.initial, "scanner")

    # -- code entry -----------------------------------------------------------------------------

    @property
    def takes_codes(self) -> bool:
        """A code may be entered now: none was sent yet, or the last attempt ended unpaid."""
        if self.sending:
            return False
        return self.attempt is None or (self.done and self.attempt.state in ENDED_UNPAID)

    def on_key(self, event: events.Key) -> None:
        if not self.takes_codes:
            return  # a code was sent and may still be paid: nothing typed now may send another
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
        self.query_one("#scan-code", Static).update(text or _(WAITING))

    def entered(self, text: str, source: str) -> None:
        try:
            routed = route_auth_code(text)
        except PosError as exc:
            self.set_state(cashier_text(exc), "failed")
            self.query_one("#scan-code", Static).update(_(WAITING))
            return
        self.submit(routed, source)

    def action_image(self) -> None:
        if not self.takes_codes:
            return

        def chosen(path: str | None) -> None:
            if path:
                self.read_image(Path(path).expanduser())

        self.app.push_screen(TextModal(_("Picture of the payment code (file path)"), ""), chosen)

    @work(exclusive=True, group="image", exit_on_error=False, thread=True)
    def read_image(self, path: Path) -> None:
        from pos_app.scan import decode_payment_code

        routed = decode_payment_code(path)
        self.app.call_from_thread(self.submit, routed, "image")

    # -- sending --------------------------------------------------------------------------------

    def submit(self, routed: RoutedCode, source: str) -> None:
        if not self.takes_codes:
            return
        refused = self.till.channel_board.breaker_refusal(routed.channel)
        if refused is not None:  # the engine would refuse it too: the customer can show another wallet
            self.set_state(refused, "failed")
            self.query_one("#scan-code", Static).update(_(WAITING))
            return
        if self.attempt is not None:
            # The last attempt ended unpaid: this code is a new attempt (new order, same amount).
            self.till.unwatch(self.attempt.out_trade_no)
            self.attempt, self.done = None, False
            self.query_one("#scan-order", Static).update("")
            self.query_one("#keys", Static).update(_(self.KEYS))
        self.sending = True
        self.query_one("#scan-code", Static).update(
            _("{channel} code {masked} ({source})").format(
                channel=_(routed.channel.label), masked=routed.masked, source=_(source)
            )
        )
        self.set_state(_("Sending…"), "")
        self.send(routed)

    @work(exclusive=True, group="payment", exit_on_error=False)
    async def send(self, routed: RoutedCode) -> None:
        try:
            self.attempt = await self.till.start_micropay(self.draft, routed)
        finally:
            self.sending = False
        self.query_one("#scan-order", Static).update(_("Order {order}").format(order=self.attempt.out_trade_no))
        if self.attempt.view is not None:
            self.accept_view(self.attempt.view)
        elif self.attempt.error:
            self.set_state(_("{error} (r to retry the same order)").format(error=self.attempt.error), "failed")
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
        self.set_state(_("Sending again…"), "")
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
            self.set_state(_("{error} (r to retry the same order)").format(error=self.attempt.error), "failed")

    def worker_failed(self, error: BaseException) -> None:
        message = getattr(error, "message", None) or _("The payment could not be sent.")
        self.set_state(message, "failed")

    # -- showing ----------------------------------------------------------------------------------

    def set_state(self, text: str, css: str) -> None:
        state = self.query_one("#scan-state", Static)
        state.update(text)
        state.set_classes(f"big-state {css}".strip())

    def show_view(self, view: PaymentView) -> None:
        words = _(STATE_WORDS[view.state])
        if view.state == PaymentState.FAILED:
            words = _("FAILED — {reason}").format(reason=view.failure_reason or _("the wallet refused the payment"))
        elif view.state in {PaymentState.CLOSED, PaymentState.REVERSED}:
            words = _("CANCELED — no money was taken")
        css = {
            PaymentState.PAID: "paid",
            PaymentState.FAILED: "failed",
            PaymentState.CLOSED: "canceled",
            PaymentState.REVERSED: "canceled",
        }.get(view.state, "")
        self.set_state(words, css)
        if view.state in ENDED_UNPAID:
            self.query_one("#keys", Static).update(
                _("scan the next code (new order, same amount) · Esc back to checkout · F1 help")
            )

    def tick(self) -> None:
        view = self.attempt.view if self.attempt else None
        label = self.query_one("#scan-countdown", Static)
        if view is None or view.state not in {PaymentState.USER_PAYING, PaymentState.SUBMITTED, PaymentState.UNKNOWN}:
            label.update("")
            return
        left = remaining_seconds(view.deadline_at, self.till.clock())
        label.update("" if left is None else _("Time left {left}").format(left=countdown(left)))

    def action_back(self) -> None:
        attempt = self.attempt
        if attempt is not None and attempt.view is None and not self.sending:
            # Its result is not known: journaled as cancelled by the cashier, so a payment that went
            # through after all is a money alert, not a quiet sale.
            self.till.request_cancel(attempt, reason="cashier left the open order")
            self.notify(_("The order stays open; it is settled with the engine before the next wallet sale."))
        elif attempt is not None and not self.done:
            self.notify(_("The payment is still open — wait for the result."), severity="warning")
            return
        if attempt is not None:
            self.till.unwatch(attempt.out_trade_no)
        self.app.pop_screen()
