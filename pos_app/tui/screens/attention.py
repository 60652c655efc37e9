"""Attention: the money alerts no cashier has acknowledged (a sale paid after it was cancelled, a
refund that failed), each with the action to take: hand over the goods, or refund with one key and
the manager PIN. Opened with F4, and on its own at sign-in while any alert is open."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from pos_app.domain.money import format_fen
from pos_app.domain.states import RefundState
from pos_app.i18n import N_, _
from pos_app.terminal.alerts import SAW_WORDS, AckAction, Alert, AlertKind
from pos_app.tui.modals.pin import ManagerPinModal
from pos_app.tui.screens.base import TillScreen

#: Why the till refunds an alert's payment (journaled with the refund).
REFUND_REASON = "money alert: {saw}, then {became}"
BECAME_WORDS = {"PAID": N_("PAID"), "FAILED": N_("FAILED")}


class AttentionScreen(TillScreen):
    HEADING = N_("Attention: money alerts")
    KEYS = N_("↑↓ choose · Enter goods handed over / done · r refund (manager PIN) · Esc back")
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "acknowledge", "Done"),
        Binding("r", "refund", "Refund"),
    ]

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(
                _("These sales ended differently from what the till showed. Each stays here until it is dealt with."),
                classes="hint",
            )
            table: DataTable[str] = DataTable(id="attention-table", cursor_type="row")
            yield table
            yield Static("", id="attention-detail", classes="big-state failed")

    def on_mount(self) -> None:
        table = self.query_one("#attention-table", DataTable)
        table.add_columns(_("Order"), _("Amount"), _("You saw"), _("Now"), _("Time"))
        self.reload()
        table.focus()

    def reload(self) -> None:
        self.pos.alerts_changed()
        table = self.query_one("#attention-table", DataTable)
        table.clear()
        for alert in self.pos.alerts:
            table.add_row(
                alert.out_trade_no,
                format_fen(alert.amount_fen),
                _(SAW_WORDS.get(alert.saw, alert.saw)),
                _(BECAME_WORDS.get(alert.became, alert.became)),
                f"{alert.at.astimezone():%H:%M:%S}",
                key=str(alert.id),
            )
        self.show_selected()

    def selected(self) -> Alert | None:
        table = self.query_one("#attention-table", DataTable)
        if not self.pos.alerts or table.cursor_row < 0:
            return None
        row_key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return next((a for a in self.pos.alerts if str(a.id) == row_key), None)

    @on(DataTable.RowHighlighted, "#attention-table")
    def show_selected(self) -> None:
        detail = self.query_one("#attention-detail", Static)
        alert = self.selected()
        if alert is None:
            detail.update(_("Nothing needs attention — Esc back to checkout."))
            detail.set_classes("big-state paid")
            return
        detail.update(f"{alert.headline()}\n{alert.action()}")
        detail.set_classes("big-state failed")

    @on(DataTable.RowSelected, "#attention-table")
    def row_entered(self) -> None:
        self.action_acknowledge()

    def action_acknowledge(self) -> None:
        alert = self.selected()
        if alert is None:
            self.action_back()
            return
        action = AckAction.ACKNOWLEDGED if alert.kind is AlertKind.REFUND_FAILED else AckAction.HANDED_OVER
        self.till.acknowledge(alert, action)
        self.notify(_("Alert for order {order} closed.").format(order=alert.out_trade_no))
        self.reload()

    def action_refund(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        left = self.till.refundable_fen(alert.out_trade_no)
        amount = min(left, alert.amount_fen)
        if amount <= 0:
            self.notify(_("Nothing is left to refund on this sale."), severity="warning")
            return

        def approved(manager: str | None) -> None:
            if manager is not None:
                self.run_refund(alert, amount, manager)

        purpose = _("refund {amount}").format(amount=format_fen(amount))
        self.app.push_screen(ManagerPinModal(purpose, self.till.check_manager), approved)

    @work(exclusive=True, group="refund", exit_on_error=False)
    async def run_refund(self, alert: Alert, amount_fen: int, manager: str) -> None:
        detail = self.query_one("#attention-detail", Static)
        detail.update(_("Refunding {amount}…").format(amount=format_fen(amount_fen)))
        reason = REFUND_REASON.format(saw=alert.saw, became=alert.became)
        state = await self.till.refund(alert.out_trade_no, amount_fen, reason=reason, manager=manager)
        if state is RefundState.FAILED:
            detail.update(_("The refund FAILED — r tries again, or pay it out in cash and press Enter."))
            return
        self.till.acknowledge(alert, AckAction.REFUNDED)
        if state is RefundState.SUCCESS:
            self.notify(
                _("Refunded {amount} — order {order}.").format(amount=format_fen(amount_fen), order=alert.out_trade_no)
            )
        else:
            self.notify(_("Refund of {amount} sent — it settles by itself.").format(amount=format_fen(amount_fen)))
        self.reload()

    def worker_failed(self, error: BaseException) -> None:
        message = getattr(error, "message", None) or _("The refund did not go through.")
        self.query_one("#attention-detail", Static).update(_("{message} — r tries again.").format(message=message))

    def action_back(self) -> None:
        self.app.pop_screen()
