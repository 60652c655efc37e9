"""A sale's receipt on screen, as the journal holds it, with a reprint (``p``: marked REPRINT,
journaled as ``receipt.reprint``, sent to the ``[terminal] printer`` if one is set)."""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from pos_app.domain.errors import PosError
from pos_app.i18n import N_, _
from pos_app.receipts.text import render_text
from pos_app.terminal.error_words import cashier_text
from pos_app.tui.screens.base import TillScreen


class ReceiptScreen(TillScreen):
    CSS_PATH = "../styles/ops.tcss"
    HEADING = N_("Receipt")
    KEYS = N_("p reprint · Esc back")
    BINDINGS = [Binding("escape", "back", N_("Back")), Binding("p", "reprint", N_("Reprint"))]

    def __init__(self, out_trade_no: str) -> None:
        super().__init__()
        self.out_trade_no = out_trade_no

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("", id="receipt-text", markup=False)

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="receipt", exit_on_error=False)
    async def load(self) -> None:
        try:
            receipt = await asyncio.to_thread(self.till.sale_receipt, self.out_trade_no)
        except PosError as exc:
            self.query_one("#receipt-text", Static).update(cashier_text(exc))
            return
        self.query_one("#receipt-text", Static).update(render_text(receipt))

    def action_reprint(self) -> None:
        self.reprint()

    @work(exclusive=True, group="receipt", exit_on_error=False)
    async def reprint(self) -> None:
        """Journal the reprint and print it (both off the event loop: the printer may be slow)."""
        try:
            done = await asyncio.to_thread(self.till.reprint, self.out_trade_no)
        except PosError as exc:
            self.notify(cashier_text(exc), severity="error")
            return
        self.query_one("#receipt-text", Static).update(render_text(done.receipt))
        if done.printer is None:
            self.notify(_("No printer configured ([terminal] printer) — receipt shown on screen."))
        elif done.printer_error is not None:
            self.notify(
                _("Printer: {error} — check paper and cable.").format(error=done.printer_error), severity="error"
            )
        else:
            self.notify(_("Reprinted."))

    def action_back(self) -> None:
        self.app.pop_screen()
