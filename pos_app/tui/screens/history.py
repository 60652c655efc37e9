"""Today's sales, searchable by amount, time, channel, out_trade_no (and cashier, state, subject).
Enter opens a sale with its full event trail, refunds and voids."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input

from pos_app.domain.money import format_fen
from pos_app.i18n import N_, _, format_clock
from pos_app.terminal.text import channel_name, state_words
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.sale import SaleScreen


class HistoryScreen(TillScreen):
    HEADING = N_("Today's sales")
    KEYS = N_("type to search · ↑↓ choose · Enter open · / search · Esc back · F1 help")
    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("slash", "search", N_("Search")),
    ]

    def body(self) -> ComposeResult:
        with Vertical():
            yield Input(
                placeholder=_("Search: amount (12.50), time (14:05), wechat/alipay/cash, order no"), id="search"
            )
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#history-table", DataTable)
        table.add_columns(_("Time"), _("Amount"), _("Channel"), _("State"), _("Cashier"), _("Order"))
        self.reload("")
        table.focus()

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
                channel_name(row.channel),
                state_words(row.state),
                row.cashier,
                row.out_trade_no,
                key=row.out_trade_no,
            )

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        self.reload(event.value)

    @on(Input.Submitted, "#search")
    def search_done(self) -> None:
        self.query_one("#history-table", DataTable).focus()

    @on(DataTable.RowSelected, "#history-table")
    def open_sale(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(SaleScreen(event.row_key.value))

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_back(self) -> None:
        self.app.pop_screen()
