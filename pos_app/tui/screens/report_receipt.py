"""A sale's receipt on screen, as the journal holds it, with a reprint (``p``: marked REPRINT,
journaled as ``receipt.reprint``, sent to the ``[terminal] printer`` if one is set)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from pos_app.domain.errors import PosError
from pos_app.journal.db import session_scope
from pos_app.receipts.from_journal import Letterhead, printer_target, receipt_for_sale, reprint_receipt
from pos_app.receipts.model import render_text
from pos_app.tui.screens.base import TillScreen


class ReceiptScreen(TillScreen):
    CSS_PATH = "../styles/ops.tcss"
    HEADING = "Receipt"
    KEYS = "p reprint · Esc back"
    BINDINGS = [Binding("escape", "back", "Back"), Binding("p", "reprint", "Reprint")]

    def __init__(self, out_trade_no: str) -> None:
        super().__init__()
        self.out_trade_no = out_trade_no

    def letterhead(self) -> Letterhead:
        terminal = self.till.settings.terminal
        return Letterhead(terminal.store_name, terminal.name, terminal.sandbox)

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("", id="receipt-text", markup=False)

    def on_mount(self) -> None:
        try:
            with session_scope(self.till.journal) as session:
                receipt = receipt_for_sale(session, self.out_trade_no, self.letterhead())
        except PosError as exc:
            self.query_one("#receipt-text", Static).update(exc.message)
            return
        self.query_one("#receipt-text", Static).update(render_text(receipt))

    def action_reprint(self) -> None:
        from pos_app.receipts.escpos import print_receipt

        printer = self.till.settings.terminal.printer
        try:
            with session_scope(self.till.journal) as session:
                receipt = reprint_receipt(
                    session,
                    self.out_trade_no,
                    self.letterhead(),
                    cashier=self.till.cashier or "unknown",
                    at=self.till.clock(),
                    target=printer,
                )
        except PosError as exc:
            self.notify(exc.message, severity="error")
            return
        self.pos.journal_written()
        self.query_one("#receipt-text", Static).update(render_text(receipt))
        if printer:
            try:
                print_receipt(receipt, printer_target(printer))
            except Exception as exc:  # a printer problem must not lose the journaled reprint
                self.notify(f"Printer: {exc.__class__.__name__} — check paper and cable.", severity="error")
                return
            self.notify("Reprinted.")
        else:
            self.notify("No printer configured ([terminal] printer) — receipt shown on screen.")

    def action_back(self) -> None:
        self.app.pop_screen()
