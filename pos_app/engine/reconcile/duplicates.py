"""The bill's payment rows indexed by order number, each repeated order number reported once."""

from __future__ import annotations

from itertools import compress
from operator import ne

from pos_app.domain.money import format_fen
from pos_app.engine.reconcile.bill import PAID, REVOKED, Bill
from pos_app.engine.reconcile.results import ACT_DUPLICATE, Difference, OpenItem


def index_payment_rows(bill: Bill, rows: list[int], otns: list[str], items: list[OpenItem]) -> dict[str, int]:
    """``otns[k]`` → ``rows[k]``; an order number on several rows keeps the row the matcher must
    compare (see :func:`_resolve_repeats`), and each repeat becomes a DUPLICATE_IN_BILL item."""
    index = dict(zip(otns, rows, strict=True))
    if len(index) != len(rows):
        _resolve_repeats(bill, rows, otns, index, items)
    return index


def _resolve_repeats(
    bill: Bill, rows: list[int], otns: list[str], index: dict[str, int], items: list[OpenItem]
) -> None:
    """A key seen twice: keep the first row for matching, report each repeat once."""
    # Only the rows of repeated keys are walked (found in C: dict(zip) kept the last row of each
    # key, so every earlier row of a repeated key points elsewhere); a Python loop over a million
    # rows, and a second million-key dict, for a few repeats would cost a second and 100 MB.
    earlier = list(compress(rows, map(ne, map(index.__getitem__, otns), rows)))
    first: dict[str, int] = {}
    for i in sorted({*earlier, *(index[bill.out_trade_no[i]] for i in earlier)}):  # all their rows, in order
        otn = bill.out_trade_no[i]
        j = first.setdefault(otn, i)
        if j == i:
            continue
        identical = bill.line_hash[i] == bill.line_hash[j]
        if not identical and {bill.status[i], bill.status[j]} == {PAID, REVOKED}:
            # Paid, then reversed, listed on two lines: the reversal is the outcome.
            index[otn] = i if bill.status[i] == REVOKED else j
            continue
        what = "repeats line" if identical else "has the same order number as line"
        items.append(
            OpenItem(
                Difference.DUPLICATE_IN_BILL,
                bill.channel,
                otn,
                f"Bill line {bill.line_no[i]} {what} {bill.line_no[j]} ({format_fen(bill.amount_fen[i])}); "
                "it is counted once.",
                ACT_DUPLICATE,
                bill_fen=bill.amount_fen[i],
                bill_status=bill.status[i],
                bill_line=bill.line_no[i],
            )
        )
    for otn, j in first.items():
        if index.get(otn, j) != j and bill.status[index[otn]] != REVOKED:
            index[otn] = j
