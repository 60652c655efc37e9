"""Payments an earlier run left open: shown, and settled through the engine before the next sale."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from pos_app.domain.money import format_fen
from pos_app.domain.routing import PaymentMode
from pos_app.i18n import N_, _
from pos_app.tui.screens.base import TillScreen


class PendingScreen(TillScreen):
    HEADING = N_("Open payments")
    KEYS = N_("r retry now · Enter continue when all are settled · Esc continue (cash only) · F1 help")
    BINDINGS = [
        Binding("r", "settle", "Retry"),
        Binding("enter", "continue", "Continue"),
        Binding("escape", "leave", "Cash only"),
    ]

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(
                _(
                    "These payments were started (or cancelled while the engine was away) and their result "
                    "is not known yet. Each is asked at the engine and, if still open, cancelled — nothing is "
                    "charged twice; one the customer paid anyway becomes a money alert (F4)."
                ),
                classes="hint",
            )
            table: DataTable[str] = DataTable(id="pending-table", cursor_type="row")
            table.can_focus = False  # Enter belongs to the screen (continue), not to the table
            yield table
            yield Static("", id="pending-state", classes="big-state")

    def on_mount(self) -> None:
        table = self.query_one("#pending-table", DataTable)
        table.add_columns(_("Order"), _("Channel"), _("Mode"), _("Amount"), _("State"), _("Cashier"), _("Result"))
        self.rows = self.till.pending()
        for row in self.rows:
            table.add_row(
                row.out_trade_no,
                # An open one-code order may not have met a wallet yet: its channel is not known.
                _("One QR") if row.mode is PaymentMode.ONE_QR else _(row.channel.label),
                row.mode.value,
                format_fen(row.amount_fen),
                row.state.value,
                row.cashier,
                "…",
                key=row.out_trade_no,
            )
        self.action_settle()

    def action_settle(self) -> None:
        self.query_one("#pending-state", Static).update(_("Settling with the engine…"))
        self.settle_all()

    @work(exclusive=True, group="settle", exit_on_error=False)
    async def settle_all(self) -> None:
        table = self.query_one("#pending-table", DataTable)
        columns = list(table.columns.keys())
        failures = 0
        for row in self.rows:
            try:
                state = await self.till.settle(row.out_trade_no)
                text = state.value
            except Exception as exc:
                failures += 1
                text = getattr(exc, "message", None) or _("not settled")
            table.update_cell(row.out_trade_no, columns[-1], text[:40])
        left = len(self.till.pending())
        status = self.query_one("#pending-state", Static)
        if left == 0:
            status.update(_("All settled — Enter to continue"))
            status.set_classes("big-state paid")
        else:
            status.update(_("{n} still open — r to retry, Esc for cash only").format(n=left))
            status.set_classes("big-state failed")

    def action_continue(self) -> None:
        if self.till.pending():
            self.notify(_("Some payments are still open — r to retry, or Esc for cash only."), severity="warning")
            return
        self.app.pop_screen()

    def action_leave(self) -> None:
        self.app.pop_screen()
