"""The receipts the till shows and prints: a finished sale's, and a reprint from the journal
(journaled as ``receipt.reprint``, sent to the ``[terminal] printer`` if one is set)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pos_app import journal
from pos_app.domain.routing import Channel
from pos_app.journal.wallet_sales import UNKNOWN_WALLET
from pos_app.receipts.model import Receipt, ReceiptLine, receipt_lines
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.core import TillCore
from pos_app.terminal.journal_receipts import Letterhead, printer_target, receipt_for_sale, reprint_receipt
from pos_app.terminal.sales import Attempt


@dataclass(frozen=True, slots=True)
class Reprint:
    """A journaled reprint and what became of it at the printer."""

    receipt: Receipt
    #: The ``[terminal] printer`` setting; None when the till has no printer (shown on screen only).
    printer: str | None
    #: Why the printer did not print (the reprint stays journaled).
    printer_error: str | None = None


class SaleReceipts(TillCore):
    def letterhead(self) -> Letterhead:
        terminal = self.settings.terminal
        return Letterhead(terminal.store_name, terminal.name, terminal.sandbox)

    def _receipt(
        self,
        out_trade_no: str,
        draft: SaleDraft,
        channel: Channel,
        cashier: str,
        at: datetime,
        *,
        tendered_fen: int | None = None,
        transaction_id: str | None = None,
        masked: str | None = None,
    ) -> Receipt:
        """The receipt of a sale just made, from what the screens hold of it."""
        head = self.letterhead()
        items = (ReceiptLine(line.description, line.quantity, line.unit_fen) for line in draft.lines)
        return Receipt(
            store_name=head.store_name,
            terminal_name=head.terminal_name,
            cashier=cashier,
            at=at.astimezone(),
            out_trade_no=out_trade_no,
            amount_fen=draft.amount_fen,
            channel=channel,
            lines=receipt_lines(items, draft.subject, draft.amount_fen),
            transaction_id=transaction_id,
            masked_auth_code=masked,
            tendered_fen=tendered_fen,
            sandbox=head.sandbox,
        )

    def receipt_for(self, attempt: Attempt) -> Receipt:
        """The receipt of a paid wallet sale."""
        view = attempt.view
        return self._receipt(
            attempt.out_trade_no,
            attempt.draft,
            # A one_qr order's wallet: named by the engine once a phone opened its page.
            attempt.channel or (view.channel if view else None) or UNKNOWN_WALLET,
            attempt.cashier,
            (view.paid_at if view and view.paid_at else attempt.created_at),
            transaction_id=view.transaction_id if view else None,
            masked=(view.masked_auth_code if view and view.masked_auth_code else None)
            or (attempt.routed.masked if attempt.routed else None),
        )

    def sale_receipt(self, out_trade_no: str) -> Receipt:
        """A sale's receipt as the journal holds it (JournalError when it has none)."""
        with journal.session_scope(self.journal) as session:
            return receipt_for_sale(session, out_trade_no, self.letterhead())

    def reprint(self, out_trade_no: str) -> Reprint:
        """Journal a reprint of a sale's receipt, then print it if the till has a printer."""
        printer = self.settings.terminal.printer
        with journal.session_scope(self.journal) as session:
            receipt = reprint_receipt(
                session,
                out_trade_no,
                self.letterhead(),
                cashier=self.cashier or "unknown",
                at=self.clock(),
                target=printer,
            )
        self._written()
        if not printer:
            return Reprint(receipt, None)
        # python-escpos is an optional extra: loaded only when something is printed.
        from pos_app.receipts.escpos import print_receipt

        try:
            print_receipt(receipt, printer_target(printer))
        except Exception as exc:  # a printer problem must not lose the journaled reprint
            return Reprint(receipt, printer, exc.__class__.__name__)
        return Reprint(receipt, printer)
