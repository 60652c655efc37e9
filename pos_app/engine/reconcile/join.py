"""The Arrow join of the engine's PAID payments with the bill's payment rows, all at once.

Why Arrow: walked one by one (or even a ``map`` at a time), a million payments cost a Python
object or two each, and almost every one of them is plainly equal to its bill line. Here the join
is a hash lookup in C (``index_in``). A payment is matched in bulk when the walk of the matcher
would count it matched without a word: its order number is on exactly one payment row of the bill
(a repeated number goes to the walk, which reports the repeat), that row says PAID, has the same
amount, and the order was not reversed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pos_app.engine.reconcile.bill import PAID, PAYMENT, Bill
from pos_app.engine.reconcile.inputs import PaidBatch
from pos_app.engine.reconcile.journal_compare import JournalComparison, JournalOdd

# Kernel arguments as Arrow scalars, built once: a Python value passed to a kernel is converted on
# every call.
_PAID = pa.scalar(PAID, pa.string())
_PAYMENT = pa.scalar(PAYMENT, pa.uint8())
_TRUE = pa.scalar(True)


@dataclass(slots=True)
class PaidJoin:
    """What the join leaves for the walk, and what it matched."""

    matched: int = 0
    count: int = 0  # PAID payments due in this bill, and their amount
    fen: int = 0
    differ: list[tuple[str, int]] = field(default_factory=list)  # (out_trade_no, amount), not plainly matched
    journal_odd: list[JournalOdd] = field(default_factory=list)
    #: The bill's payment rows no plain payment took (row numbers, and their out_trade_nos).
    left_rows: list[int] = field(default_factory=list)
    left_otns: list[str] = field(default_factory=list)

    @property
    def odd(self) -> list[str]:
        """The order numbers of the matched payments whose journal sale differs."""
        return [otn for otn, _amount, _sale in self.journal_odd]

    def take_left(self) -> tuple[list[int], list[str]]:
        """The bill rows left over, handed over once: the join keeps no reference to them, so
        they are freed as soon as the caller has indexed them (a million of each, at worst)."""
        left = self.left_rows, self.left_otns
        self.left_rows, self.left_otns = [], []
        return left


def join_paid(
    bill: Bill,
    batches: Iterable[PaidBatch],
    is_payment: Any,
    reversals: set[str],
    journal: JournalComparison | None,
) -> PaidJoin:
    """Match the PAID, due payments against the bill's payment rows (``is_payment``: their mask).

    The payments not plainly matched are returned in ``differ`` for the walk's own classification;
    journal differences of the matched ones in ``journal_odd``; the bill rows no plain payment took
    in ``left_rows``.
    """
    joined = PaidJoin()
    l_otn, l_amount = _arrow_batches(batches)
    joined.count = len(l_otn)
    joined.fen = pc.sum(l_amount).as_py() or 0
    otn_all = bill.out_trade_no.arrow
    # The first bill row of each ledger payment's order number (null: none), one hash join over
    # the bill's own column (no copy of it). A number whose first row is not a payment row (a
    # refund listed before its payment) is left to the walk, like any other difference.
    at = pc.index_in(l_otn, value_set=otn_all)
    # Its hash table (a copy of a million numbers) is freed now; hand the pages back before the
    # next tables are built, or they add up in peak memory (the allocator keeps freed pages).
    pa.default_memory_pool().release_unused()
    plain = pc.and_(
        pc.and_(
            pc.equal(pc.take(bill.kind.arrow, at), _PAYMENT),
            pc.equal(pc.take(bill.amount_fen.arrow, at), l_amount),
        ),
        pc.equal(pc.take(bill.status.arrow, at), _PAID),
    )
    plain = pc.fill_null(plain, False)
    if reversals:
        plain = pc.and_not(plain, pc.is_in(l_otn, value_set=pa.array(sorted(reversals), pa.string())))
    left = _untaken(is_payment, at, plain)
    left_otns = pc.take(otn_all, left)
    if len(left_otns):
        # An order number on two payment rows: a plain payment took its first row, and the other
        # is left over. Such numbers go to the walk, which reports the repeat (rare: found from the
        # few rows left over, not by a second hash of the whole bill).
        repeated = pc.and_(plain, pc.is_in(l_otn, value_set=left_otns))
        if pc.any(repeated).as_py():
            plain = pc.and_not(plain, repeated)
            left = _untaken(is_payment, at, plain)
            left_otns = pc.take(otn_all, left)
    joined.matched = pc.sum(plain).as_py() or 0
    if joined.matched != len(l_otn):
        differ = pc.invert(plain)
        joined.differ = list(
            zip(pc.filter(l_otn, differ).to_pylist(), pc.filter(l_amount, differ).to_pylist(), strict=True)
        )
    joined.left_rows = left.to_pylist()
    joined.left_otns = left_otns.to_pylist()
    if journal is not None and joined.matched:
        otns, amounts = pc.filter(l_otn, plain).to_pylist(), pc.filter(l_amount, plain).to_pylist()
        joined.journal_odd = journal.take_bulk(otns, amounts)
    return joined


def _arrow_batches(batches: Iterable[PaidBatch]) -> tuple[Any, Any]:
    """The paid batches as two Arrow arrays (out_trade_no strings, int64 amounts)."""
    otns: list[Any] = []
    amounts: list[Any] = []
    for numbers, fen in batches:
        if len(numbers) != len(fen):
            raise ValueError("a batch of paid payments needs as many amounts as numbers")
        otns.append(numbers if isinstance(numbers, pa.Array | pa.ChunkedArray) else pa.array(numbers, pa.string()))
        amounts.append(fen if isinstance(fen, pa.Array | pa.ChunkedArray) else pa.array(fen, pa.int64()))
    return _concat(otns, pa.string()), _concat(amounts, pa.int64())


def _concat(parts: list[Any], kind: Any) -> Any:
    chunks = [chunk for part in parts for chunk in (part.chunks if isinstance(part, pa.ChunkedArray) else [part])]
    return pa.chunked_array([chunk.cast(kind) for chunk in chunks], kind)


def _untaken(is_payment: Any, at: Any, plain: Any) -> Any:
    """The bill's payment rows that no plain payment took (the ledger's order numbers are unique,
    so each takes its own row): the taken rows marked by a scatter, no hash table."""
    taken = pc.filter(at, plain)
    marked = pc.scatter(pa.repeat(_TRUE, len(taken)), taken, max_index=len(is_payment) - 1)
    return pc.indices_nonzero(pc.and_not(is_payment, pc.fill_null(marked, False)))
