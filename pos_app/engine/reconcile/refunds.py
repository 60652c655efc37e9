"""The bill's refund rows matched with the engine's refunds, by refund number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from pos_app.domain.money import format_fen
from pos_app.domain.states import RefundState
from pos_app.engine.reconcile.bill import REFUND_FAILED, REFUND_SUCCESS, Bill
from pos_app.engine.reconcile.inputs import LedgerRefund, RefundLookup
from pos_app.engine.reconcile.results import ACT_AMOUNT, ACT_DUPLICATE, Difference, OpenItem

_SUCCESS = RefundState.SUCCESS.value
_FAILED = RefundState.FAILED.value


def match_refunds(
    bill: Bill,
    refund_rows: list[int],
    refunds: Iterable[LedgerRefund],
    lookup: RefundLookup | None,
    items: list[OpenItem],
) -> int:
    """Match the engine's refunds with the bill's refund rows (``refund_rows``: their row numbers,
    reversals excluded); refunds of other days come from ``lookup``. Returns how many matched."""
    matching = _RefundMatching(bill, items)
    index = matching.index_rows(refund_rows)
    matched = 0
    for refund in refunds:
        matched += matching.compare(refund, index.pop(refund.out_refund_no, -1))
    if index and lookup is not None:
        for refund in lookup(list(index)):
            row = index.pop(refund.out_refund_no, -1)
            if row >= 0:
                matched += matching.compare(replace(refund, due=False), row)  # another day's: never due
    matching.report_unknown(index)
    return matched


@dataclass(slots=True)
class _RefundMatching:
    bill: Bill
    items: list[OpenItem]

    def index_rows(self, rows: list[int]) -> dict[str, int]:
        """Refund number → its first bill row; each repeated row reported once."""
        bill = self.bill
        index: dict[str, int] = {}
        for i in rows:
            rno = bill.out_refund_no[i]
            j = index.setdefault(rno, i)
            if j != i:
                self.items.append(
                    OpenItem(
                        Difference.DUPLICATE_IN_BILL,
                        bill.channel,
                        bill.out_trade_no[i],
                        f"Bill line {bill.line_no[i]} repeats refund {rno} of line {bill.line_no[j]}; "
                        "it is counted once.",
                        ACT_DUPLICATE,
                        out_refund_no=rno,
                        bill_fen=bill.amount_fen[i],
                        bill_status=bill.status[i],
                        bill_line=bill.line_no[i],
                    )
                )
        return index

    def compare(self, refund: LedgerRefund, row: int) -> int:
        """One engine refund against its bill row (-1: not in the bill). Returns 1 if matched."""
        if row < 0:
            return self._not_in_bill(refund)
        b_amount, b_status = self.bill.amount_fen[row], self.bill.status[row]
        rno = refund.out_refund_no
        if b_amount != refund.amount_fen:
            self._item(
                refund,
                row,
                f"Refund {rno}: the bill says {format_fen(b_amount)}, the engine {format_fen(refund.amount_fen)}.",
                ACT_AMOUNT,
            )
        elif b_status == REFUND_SUCCESS and refund.state == _FAILED:
            self._item(
                refund,
                row,
                f"Refund {rno} succeeded at the provider but the engine recorded it as failed.",
                "Do not refund again; mark the refund done with the manager PIN.",
            )
        elif b_status == REFUND_SUCCESS and refund.state != _SUCCESS:
            self._item(
                refund,
                row,
                f"Refund {rno} succeeded at the provider; the engine still has it as {refund.state}.",
                "Nothing to pay out again: the engine confirms it on its next refund query; "
                "if it stays open, mark it done with the manager PIN.",
            )
        elif b_status == REFUND_FAILED and refund.state == _SUCCESS:
            self._item(
                refund,
                row,
                f"Refund {rno} failed at the provider but the engine recorded it as done.",
                "The customer did not get the money back: refund again from the till.",
            )
        else:
            return 1
        return 0

    def report_unknown(self, index: dict[str, int]) -> None:
        """Bill refunds no engine refund took: made outside this system."""
        bill = self.bill
        for rno, j in index.items():
            self.items.append(
                OpenItem(
                    Difference.REFUND_DIFFERS,
                    bill.channel,
                    bill.out_trade_no[j],
                    f"The provider's bill has a refund of {format_fen(bill.amount_fen[j])} ({rno}, {bill.status[j]}) "
                    "that was not made through this system.",
                    "Find out who refunded it in the merchant platform; record it against the sale for the day's "
                    "totals.",
                    out_refund_no=rno,
                    missing_from="ledger",
                    bill_fen=bill.amount_fen[j],
                    bill_status=bill.status[j],
                    bill_line=bill.line_no[j],
                )
            )

    def _not_in_bill(self, refund: LedgerRefund) -> int:
        if refund.state != _SUCCESS or not refund.due:
            return 1
        rno = refund.out_refund_no
        self.items.append(
            OpenItem(
                Difference.REFUND_DIFFERS,
                self.bill.channel,
                refund.out_trade_no,
                f"The engine refunded {format_fen(refund.amount_fen)} ({rno}) but the provider's bill does "
                "not list the refund.",
                "Look the refund up in the merchant platform; if it never happened, refund the customer again.",
                out_refund_no=rno,
                missing_from="provider",
                ledger_fen=refund.amount_fen,
                ledger_status=refund.state,
            )
        )
        return 0

    def _item(self, refund: LedgerRefund, row: int, detail: str, action: str) -> None:
        """A REFUND_DIFFERS item on an engine refund and its bill row."""
        bill = self.bill
        self.items.append(
            OpenItem(
                Difference.REFUND_DIFFERS,
                bill.channel,
                refund.out_trade_no,
                detail,
                action,
                out_refund_no=refund.out_refund_no,
                bill_fen=bill.amount_fen[row],
                ledger_fen=refund.amount_fen,
                bill_status=bill.status[row],
                ledger_status=refund.state,
                bill_line=bill.line_no[row],
            )
        )
