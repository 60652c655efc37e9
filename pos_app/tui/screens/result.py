"""The result of a sale: PAID and its receipt. Enter (or n) starts the next sale."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from pos_app.domain.money import format_fen
from pos_app.i18n import N_, _
from pos_app.receipts.model import Receipt
from pos_app.receipts.text import render_text
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.history import HistoryScreen


class ResultScreen(TillScreen):
    HEADING = N_("Sale complete")
    KEYS = N_("Enter / n new sale · h history · F1 help")
    BINDINGS = [
        Binding("enter", "new_sale", N_("New sale")),
        Binding("n", "new_sale", N_("New sale")),
        Binding("h", "history", N_("History")),
    ]

    def __init__(self, receipt: Receipt) -> None:
        super().__init__()
        self.receipt = receipt

    def body(self) -> ComposeResult:
        with Horizontal(id="result-layout"):
            yield Static(render_text(self.receipt), id="receipt", markup=False)
            with Vertical(id="result-side"):
                yield Static(_("PAID"), id="result-state", classes="big-state paid")
                if self.receipt.change_fen is not None:
                    yield Static(
                        _("Change due {amount}").format(amount=format_fen(self.receipt.change_fen)), classes="big-state"
                    )
                yield Static(_("Enter for the next customer"), classes="hint")

    def on_mount(self) -> None:
        # The sale is over and the receipt is being read: the moment for a full garbage collection
        # (see pos_app.tui.collector), once PAID is on screen.
        self.call_after_refresh(self.pos.collector.idle)

    def action_new_sale(self) -> None:
        self.pos.next_sale()

    def action_history(self) -> None:
        self.action_new_sale()
        self.app.push_screen(HistoryScreen())
