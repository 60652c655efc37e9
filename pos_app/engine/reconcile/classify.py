"""One engine payment that is not plainly matched, classified against its bill row (or its absence)."""

from __future__ import annotations

from dataclasses import dataclass

from pos_app.domain.money import format_fen
from pos_app.domain.states import PaymentState
from pos_app.engine.reconcile.bill import PAID, REVOKED, Bill
from pos_app.engine.reconcile.bill_values import hms_seconds
from pos_app.engine.reconcile.inputs import LedgerPayment
from pos_app.engine.reconcile.results import (
    ACT_AMOUNT,
    ACT_MISSING_AT_PROVIDER,
    ACT_NOTHING,
    Difference,
    OpenItem,
    Settlement,
)
from pos_app.engine.reconcile.state_groups import MONEY_IN, NO_MONEY, REVERSED, SETTLED


@dataclass(frozen=True, slots=True)
class BillRow:
    """The bill's payment row of one order, as the classification reads it."""

    row: int
    status: str  # PAID or REVOKED (a payment reversed the same day reads REVOKED)
    amount_fen: int
    line_no: int


@dataclass(slots=True)
class Classifier:
    """Classifies payments against the bill of one channel, appending to the match's items and settlements.

    ``reversals`` holds the orders whose bill shows the payment and its reversal (money back).
    """

    bill: Bill
    reversals: set[str]
    items: list[OpenItem]
    settled: list[Settlement]

    def classify(self, payment: LedgerPayment, row: int) -> int:
        """Classify ``payment`` against bill row ``row`` (-1: not in the bill). Returns 1 if matched."""
        if row < 0:
            return self._not_in_bill(payment)
        seen = self._bill_row(payment.out_trade_no, row)
        if seen.amount_fen != payment.amount_fen:
            self._item(
                Difference.AMOUNT_DIFFERS,
                payment,
                seen,
                f"The bill says {format_fen(seen.amount_fen)}, the engine {format_fen(payment.amount_fen)} "
                f"(difference {format_fen(seen.amount_fen - payment.amount_fen)}).",
                ACT_AMOUNT,
            )
            return 0
        if seen.status == PAID:
            return self._paid_in_bill(payment, seen)
        return self._reversed_in_bill(payment, seen)

    def _bill_row(self, out_trade_no: str, row: int) -> BillRow:
        bill = self.bill
        status = bill.status[row]
        if status == PAID and out_trade_no in self.reversals:
            status = REVOKED  # paid, then reversed the same day: the reversal is the outcome
        return BillRow(row, status, bill.amount_fen[row], bill.line_no[row])

    def _not_in_bill(self, payment: LedgerPayment) -> int:
        otn, state = payment.out_trade_no, payment.state
        if state in MONEY_IN:
            self._ledger_item(
                Difference.MISSING_AT_PROVIDER,
                payment,
                f"The engine has {otn} as {state} ({format_fen(payment.amount_fen)}) but the provider's bill "
                "does not list it.",
                ACT_MISSING_AT_PROVIDER,
                missing_from="provider",
            )
            return 0
        if state in SETTLED or not payment.due:
            return 1  # nothing collected (or collected another day) and not in the bill: consistent
        self._ledger_item(
            Difference.STATUS_DIFFERS,
            payment,
            f"The engine still has {otn} as {state}; the provider's bill shows no payment that day.",
            "The engine keeps querying and will close it; if it stays open, check it in the merchant platform.",
        )
        return 0

    def _paid_in_bill(self, payment: LedgerPayment, seen: BillRow) -> int:
        otn, state = payment.out_trade_no, payment.state
        if state in MONEY_IN:
            return 1
        if state not in SETTLED:
            self._settle(
                payment,
                seen,
                PaymentState.PAID,
                f"The engine had {otn} as {state}; the bill proves it was paid "
                f"({format_fen(payment.amount_fen)}): set to PAID.",
            )
            return 1
        self._item(
            Difference.STATUS_DIFFERS,
            payment,
            seen,
            f"The provider collected {format_fen(seen.amount_fen)} for {otn} but the engine has it as {state}.",
            "Check the sale with the cashier: hand over the goods and record the sale, or refund the customer.",
        )
        return 0

    def _reversed_in_bill(self, payment: LedgerPayment, seen: BillRow) -> int:
        """The bill shows the payment reversed (WeChat REVOKED): the money went back."""
        otn, state = payment.out_trade_no, payment.state
        if state == REVERSED or state in NO_MONEY:
            return 1
        if state not in SETTLED:
            self._settle(
                payment,
                seen,
                PaymentState.REVERSED,
                f"The engine had {otn} as {state}; the bill proves it was reversed: set to REVERSED.",
            )
            return 1
        self._item(
            Difference.STATUS_DIFFERS,
            payment,
            seen,
            f"The provider reversed {otn} (money returned) but the engine has it as {state}.",
            "Ask the customer to pay again or take the goods back; then void the sale.",
        )
        return 0

    def _settle(self, payment: LedgerPayment, seen: BillRow, target: PaymentState, detail: str) -> None:
        """The bill proves an outcome the engine did not know: record the settlement and say so."""
        bill = self.bill
        self.settled.append(
            Settlement(
                bill.channel,
                payment.out_trade_no,
                target,
                payment.amount_fen,
                bill.transaction_id(seen.row) or None,
                at_s=hms_seconds(bill.at_hms[seen.row]),
            )
        )
        self._item(Difference.SETTLED_FROM_BILL, payment, seen, detail, ACT_NOTHING)

    def _item(self, kind: Difference, payment: LedgerPayment, seen: BillRow, detail: str, action: str) -> None:
        """An item on a payment and its bill row."""
        self.items.append(
            OpenItem(
                kind,
                self.bill.channel,
                payment.out_trade_no,
                detail,
                action,
                bill_fen=seen.amount_fen,
                ledger_fen=payment.amount_fen,
                bill_status=seen.status,
                ledger_status=payment.state,
                terminal_id=payment.terminal_id,
                bill_line=seen.line_no,
            )
        )

    def _ledger_item(
        self, kind: Difference, payment: LedgerPayment, detail: str, action: str, *, missing_from: str | None = None
    ) -> None:
        """An item on a payment the bill does not list."""
        self.items.append(
            OpenItem(
                kind,
                self.bill.channel,
                payment.out_trade_no,
                detail,
                action,
                missing_from=missing_from,
                ledger_fen=payment.amount_fen,
                ledger_status=payment.state,
                terminal_id=payment.terminal_id,
            )
        )
