"""Today's sales, searched as the cashier types (amount, time, channel, order number, or a field:
``cashier:ann``, ``order:P26``, see :mod:`pos_app.journal.history`). The search field keeps the keys;
↑↓ move through the sales and Enter opens the chosen one (its trail, refunds and voids) at once."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from pos_app.domain.money import format_fen
from pos_app.i18n import N_, _, format_clock
from pos_app.terminal.text import state_words
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.sale import SaleScreen


class HistoryScreen(TillScreen):
    HEADING = N_("Today's sales")
    KEYS = N_("type to search · ↑↓ choose · Enter open · Esc back · F1 help")
    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("up", "move(-1)", N_("Previous sale"), show=False),
        Binding("down", "move(1)", N_("Next sale"), show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("pagedown", "move(10)", show=False),
    ]

    def body(self) -> ComposeResult:
        with Vertical():
            hint = _("Search: 12.50 · 14:05 · wechat/alipay/cash · order no · cashier:name")
            yield Input(placeholder=hint, id="search")
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#history-table", DataTable)
        table.add_columns(_("Time"), _("Amount"), _("Channel"), _("State"), _("Cashier"), _("Order"))
        self.reload("")
        self.query_one("#search", Input).focus()

    def on_screen_resume(self) -> None:
        self.reload(self.query_one("#search", Input).value)

    def reload(self, query: str) -> None:
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for row in self.till.history(query):
            amount = format_fen(row.amount_fen)
            if row.refunded_fen:
                amount += f" (-{format_fen(row.refunded_fen).lstrip('¥')})"
            table.add_row(
                format_clock(row.at),
                amount,
                row.channel_words,
                " · ".join(filter(None, (state_words(row.state), row.elsewhere_words))),
                row.cashier,
                row.out_trade_no,
                key=row.out_trade_no,
            )

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        self.reload(event.value)

    @on(Input.Submitted, "#search")
    def open_chosen(self) -> None:
        table = self.query_one("#history-table", DataTable)
        if table.row_count:
            self.open_sale(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowSelected, "#history-table")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_sale(event.row_key.value)

    def open_sale(self, out_trade_no: str | None) -> None:
        if out_trade_no:
            self.app.push_screen(SaleScreen(out_trade_no))

    def action_move(self, rows: int) -> None:
        table = self.query_one("#history-table", DataTable)
        table.move_cursor(row=max(0, table.cursor_row + rows))

    def action_back(self) -> None:
        self.app.pop_screen()
