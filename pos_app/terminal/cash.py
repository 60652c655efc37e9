"""Cash sales and same-day voids of cash sales: journaled at once, offline or not."""

from __future__ import annotations

from pos_app import journal
from pos_app.domain.routing import Channel
from pos_app.receipts.model import Receipt
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.sale_receipts import SaleReceipts
from pos_app.terminal.sales import journal_lines


class Cash(SaleReceipts):
    def cash_sale(self, draft: SaleDraft, tendered_fen: int) -> Receipt:
        """Record a cash sale (``tendered_fen`` handed over); its receipt, with the change due."""
        cashier = self._operator()
        at = self.clock()
        with journal.session_scope(self.journal) as session:
            sale = journal.record_cash_sale(
                session,
                terminal_id=self.terminal_id,
                store_id=self.store_id,
                cashier=cashier,
                subject=draft.subject,
                at=at,
                amount_fen=draft.amount_fen,
                lines=journal_lines(draft),
                tendered_fen=tendered_fen,
            )
            number = sale.out_trade_no
        self._written()
        return self._receipt(number, draft, Channel.CASH, cashier, at, tendered_fen=tendered_fen)

    def void_cash(self, out_trade_no: str, *, reason: str, manager: str) -> None:
        """Void a paid cash sale, approved by ``manager`` (the cash goes back to the customer)."""
        cashier = self._operator()
        with journal.session_scope(self.journal) as session:
            journal.void_cash_sale(
                session, out_trade_no, cashier=cashier, approved_by=manager, at=self.clock(), reason=reason
            )
        self._written()
