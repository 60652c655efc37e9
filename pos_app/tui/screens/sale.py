"""One sale: its details and full journal event trail; r refunds (part or all), v voids (a reason,
then the manager PIN). A refund the gateway makes wait is said so, with when it is sent."""

from __future__ import annotations

import asyncio
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from pos_app.api.schemas import VoidKind
from pos_app.domain.errors import PosError
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.i18n import N_, _, format_clock, format_moment
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.text import channel_name, state_name
from pos_app.tui.messages import PaymentUpdated
from pos_app.tui.modals.pin import ManagerPinModal
from pos_app.tui.modals.refund import RefundModal, RefundRequest
from pos_app.tui.modals.void_reason import VoidReasonModal
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.report_receipt import ReceiptScreen

#: After its send time, a waiting refund is asked for this often, this many times (then the event
#: stream and the till's settling on the next link change carry on).
FOLLOW_STEP_S, FOLLOW_TRIES = 2.0, 15

#: How a voided sale is labelled: reversed at the gateway (or cash), or paid back by a refund.
VOID_LABELS = {VoidKind.REVERSED: N_("voided"), VoidKind.REFUNDED: N_("void (refunded)")}


def waiting_words(channel: str, send_at: datetime) -> str:
    return _("{channel} allows one refund per order per minute — sent automatically at {time}").format(
        channel=channel, time=format_clock(send_at)
    )


class SaleScreen(TillScreen):
    HEADING = N_("Sale")
    KEYS = N_("r refund · v void (full) · p receipt / reprint · Esc back · F1 help")
    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("r", "refund", N_("Refund")),
        Binding("v", "void", N_("Void")),
        Binding("p", "receipt", N_("Receipt")),
    ]

    def __init__(self, out_trade_no: str) -> None:
        super().__init__()
        self.out_trade_no = out_trade_no
        #: What the cashier presses to try the last refund or void again (shown when it failed).
        self.retry_hint = ""

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="sale-summary")
            yield Static("", id="sale-result", classes="big-state")
            yield DataTable(id="trail", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#trail", DataTable)
        table.add_columns(_("Seq"), _("Time"), _("Event"), _("Details"))
        self.reload()
        table.focus()

    def reload(self) -> None:
        sale = self.till.sale(self.out_trade_no)
        if sale is None:
            self.query_one("#sale-summary", Static).update(_("No such sale."))
            return
        state = _(VOID_LABELS[sale.void_kind]) if sale.void_kind else state_name(sale.state)
        heading = [sale.out_trade_no, format_fen(sale.amount_fen), sale.channel_words, state]
        text = "  ".join(heading) + "\n" + _("Cashier {name}").format(name=sale.cashier)
        text += f" · {format_moment(sale.at)} · {sale.subject}"
        if sale.transaction_id:
            text += "\n" + _("Transaction {id}").format(id=sale.transaction_id)
        if sale.refunded_fen:
            text += "\n" + _("Refunded {amount}").format(amount=format_fen(sale.refunded_fen))
        self.query_one("#sale-summary", Static).update(text)
        table = self.query_one("#trail", DataTable)
        table.clear()
        for row in self.till.trail(self.out_trade_no):
            table.add_row(str(row.seq), format_clock(row.at), row.kind, row.summary)

    def _refundable(self) -> int | None:
        sale = self.till.sale(self.out_trade_no)
        if sale is None or sale.state not in {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED}:
            self.notify(_("Only a paid sale can be refunded or voided."), severity="warning")
            return None
        left = self.till.refundable_fen(self.out_trade_no)
        if left <= 0:
            self.notify(_("Nothing is left to refund on this sale."), severity="warning")
            return None
        return left

    def action_refund(self) -> None:
        left = self._refundable()
        if left is None:
            return

        def with_request(request: RefundRequest | None) -> None:
            if request is None:
                return

            def approved(manager: str | None) -> None:
                if manager:
                    self.retry_hint = _("r retries the same refund")
                    self.run_refund(request, manager)

            self.app.push_screen(
                ManagerPinModal(
                    _("refund {amount}").format(amount=format_fen(request.amount_fen)), self.till.check_manager
                ),
                approved,
            )

        self.app.push_screen(RefundModal(self.out_trade_no, left), with_request)

    def action_void(self) -> None:
        reason = self.till.open_void(self.out_trade_no)
        if reason is not None:
            self.ask_again(reason)  # a void whose answer is not known yet: the same void, asked again
            return
        left = self._refundable()
        if left is None:
            return
        sale = self.till.sale(self.out_trade_no)
        assert sale is not None
        if sale.state is not PaymentState.PAID or left != sale.amount_fen:
            self.notify(_("A sale with refunds cannot be voided — refund the rest instead."), severity="warning")
            return
        what = format_fen(sale.amount_fen)

        def with_reason(reason: str | None) -> None:
            if not reason:
                return

            def approved(manager: str | None) -> None:
                if not manager:
                    return
                self.retry_hint = _("v asks again")
                if sale.channel != Channel.CASH:
                    self.run_void(reason, manager)
                    return
                try:
                    self.till.void_cash(self.out_trade_no, reason=reason, manager=manager)
                except PosError as exc:
                    self.show_result(cashier_text(exc), "failed")
                    return
                self.show_result(_("VOIDED — pay the cash back"), "canceled")
                self.reload()

            purpose = _("void {amount}").format(amount=what)
            self.app.push_screen(ManagerPinModal(purpose, self.till.check_manager), approved)

        self.app.push_screen(VoidReasonModal(what), with_reason)

    def ask_again(self, reason: str) -> None:
        def approved(manager: str | None) -> None:
            if manager:
                self.retry_hint = _("v asks again")
                self.run_void(reason, manager)

        purpose = _("void — asked again")
        self.app.push_screen(ManagerPinModal(purpose, self.till.check_manager), approved)

    @work(exclusive=True, group="refund", exit_on_error=False)
    async def run_void(self, reason: str, manager: str) -> None:
        self.show_result(_("Voiding…"), "")
        result = await self.till.void_wallet(self.out_trade_no, reason=reason, manager=manager)
        refunded = result.kind is VoidKind.REFUNDED
        if result.state is RefundState.SUCCESS:
            words = (_("VOID (REFUNDED) — the money went back to the customer") if refunded else _("VOIDED")), "paid"
        elif result.state is RefundState.PROCESSING:
            words = _("VOID (REFUNDED) accepted — the money is on its way back"), "paid"
        elif result.state is RefundState.FAILED:
            words = _("Void FAILED — see the trail; refund the customer instead"), "failed"
        else:
            words = _("Void result not known yet — v asks again"), "canceled"
        self.show_result(*words)
        self.reload()

    @work(exclusive=True, group="refund", exit_on_error=False)
    async def run_refund(self, request: RefundRequest, manager: str) -> None:
        self.show_result(_("Refunding…"), "")
        state = await self.till.refund(self.out_trade_no, request.amount_fen, reason=request.reason, manager=manager)
        waiting = self.till.refund_waiting(self.out_trade_no)
        sale = self.till.sale(self.out_trade_no)
        if waiting is not None and sale is not None:
            self.show_result(waiting_words(channel_name(sale.channel), waiting[1]), "")
            self.reload()
            self.follow_refund(*waiting, request.amount_fen)
            return
        self.show_refund_state(state, request.amount_fen)
        self.reload()

    @work(exclusive=True, group="follow-refund", exit_on_error=False)
    async def follow_refund(self, out_refund_no: str, send_at: datetime, amount_fen: int) -> None:
        """The engine sends a waiting refund by itself at ``send_at``: ask for its end from then on
        (the event stream usually brings it first), so the screen never stays on the wait."""
        await asyncio.sleep(max((send_at - self.till.clock()).total_seconds(), 0.0) + FOLLOW_STEP_S)
        state = RefundState.PENDING
        for _attempt in range(FOLLOW_TRIES):
            state = await self.till.settle_refund(self.out_trade_no, out_refund_no)
            if state in (RefundState.SUCCESS, RefundState.FAILED):
                break
            await asyncio.sleep(FOLLOW_STEP_S)
        self.show_refund_state(state, amount_fen)
        self.reload()

    def show_refund_state(self, state: RefundState, amount_fen: int) -> None:
        words = {
            RefundState.SUCCESS: (_("REFUNDED {amount}").format(amount=format_fen(amount_fen)), "paid"),
            RefundState.PROCESSING: (_("Refund accepted — the money is on its way back"), "paid"),
            RefundState.FAILED: (_("Refund FAILED — see the trail"), "failed"),
        }.get(state, (_("Refund result not known yet — r retries the same refund"), "canceled"))
        self.show_result(*words)

    def worker_failed(self, error: BaseException) -> None:
        message = cashier_text(error) if isinstance(error, PosError) else _("The refund did not go through.")
        self.show_result(_("{message} ({hint})").format(message=message, hint=self.retry_hint), "failed")
        self.reload()

    def show_result(self, text: str, css: str) -> None:
        label = self.query_one("#sale-result", Static)
        label.update(text)
        label.set_classes(f"big-state {css}".strip())

    @on(PaymentUpdated)
    def payment_updated(self, message: PaymentUpdated) -> None:
        if message.view.out_trade_no == self.out_trade_no:
            self.reload()

    def action_receipt(self) -> None:
        self.app.push_screen(ReceiptScreen(self.out_trade_no))

    def action_back(self) -> None:
        self.app.pop_screen()
