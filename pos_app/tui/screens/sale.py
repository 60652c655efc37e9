"""One sale: its details and full journal event trail; r refunds (part or all), v voids.
Both need a manager PIN and a reason."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

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
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.report_receipt import ReceiptScreen


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
        heading = [sale.out_trade_no, format_fen(sale.amount_fen), channel_name(sale.channel), state_name(sale.state)]
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
                    self.run_refund(request, manager)

            self.app.push_screen(
                ManagerPinModal(
                    _("refund {amount}").format(amount=format_fen(request.amount_fen)), self.till.check_manager
                ),
                approved,
            )

        self.app.push_screen(RefundModal(self.out_trade_no, left), with_request)

    def action_void(self) -> None:
        left = self._refundable()
        if left is None:
            return
        sale = self.till.sale(self.out_trade_no)
        assert sale is not None

        def approved(manager: str | None) -> None:
            if not manager:
                return
            if sale.channel == Channel.CASH and sale.state == PaymentState.PAID:
                self.till.void_cash(self.out_trade_no, reason="void", manager=manager)
                self.show_result(_("VOIDED — pay the cash back"), "canceled")
                self.reload()
            else:
                self.run_refund(RefundRequest(left, "void"), manager)

        self.app.push_screen(
            ManagerPinModal(_("void {amount}").format(amount=format_fen(left)), self.till.check_manager), approved
        )

    @work(exclusive=True, group="refund", exit_on_error=False)
    async def run_refund(self, request: RefundRequest, manager: str) -> None:
        self.show_result(_("Refunding…"), "")
        state = await self.till.refund(self.out_trade_no, request.amount_fen, reason=request.reason, manager=manager)
        words = {
            RefundState.SUCCESS: (_("REFUNDED {amount}").format(amount=format_fen(request.amount_fen)), "paid"),
            RefundState.PROCESSING: (_("Refund accepted — the money is on its way back"), "paid"),
            RefundState.FAILED: (_("Refund FAILED — see the trail"), "failed"),
        }.get(state, (_("Refund result not known yet — r retries the same refund"), "canceled"))
        self.show_result(*words)
        self.reload()

    def worker_failed(self, error: BaseException) -> None:
        message = cashier_text(error) if isinstance(error, PosError) else _("The refund did not go through.")
        self.show_result(_("{message} (r retries the same refund)").format(message=message), "failed")
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
