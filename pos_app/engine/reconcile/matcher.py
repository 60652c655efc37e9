"""The three-way matcher: provider bill ↔ engine ledger ↔ synced terminal journals.

Built for a million rows a side: the bill is held as Arrow columns, the bulk of the ledger (PAID
payments of the day) comes as Arrow arrays, and those are joined by Arrow kernels (a hash join in
C, see :func:`_match_paid`). Only what is left — payments that differ or are not plain PAID, bill
rows no payment took — is walked in Python, with a dict from ``out_trade_no`` to a row index, and
only rows that differ become objects (:class:`OpenItem`).

What the bill proves is settled here (a payment the engine still had as unknown that the bill shows
paid, or reversed); everything else that differs becomes an open item for the manager, with the
action to take.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import compress
from operator import ne
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import MONEY_IN_STATES, SETTLED_STATES, PaymentState, RefundState
from pos_app.engine.reconcile.bill import (
    PAID,
    PAYMENT,
    REFUND_FAILED,
    REFUND_SUCCESS,
    REVOKED,
    Bill,
    gc_paused,
    hms_seconds,
)

#: The provider collected the money (refunds, if any, are matched on their own rows).
_MONEY_IN = frozenset(s.value for s in MONEY_IN_STATES) | {PaymentState.REFUNDED.value}
_SETTLED = frozenset(s.value for s in SETTLED_STATES)
_NO_MONEY = frozenset({PaymentState.FAILED.value, PaymentState.CLOSED.value})
_REVERSED = PaymentState.REVERSED.value
_PAID_STR = PaymentState.PAID.value


class Difference(StrEnum):
    """How one payment or refund differs between the sources."""

    MISSING_AT_PROVIDER = "missing_at_provider"  # we have it as paid; the provider's bill does not
    MISSING_LOCALLY = "missing_locally"  # the bill (or the engine) has it; the engine (or a terminal) does not
    AMOUNT_DIFFERS = "amount_differs"
    STATUS_DIFFERS = "status_differs"
    REFUND_DIFFERS = "refund_differs"
    DUPLICATE_IN_BILL = "duplicate_in_bill"
    SETTLED_FROM_BILL = "settled_from_bill"  # not open: the bill proved the outcome and it was applied


@dataclass(frozen=True, slots=True)
class OpenItem:
    """One difference, with what the manager should do about it."""

    kind: Difference
    channel: Channel
    out_trade_no: str
    detail: str
    action: str
    out_refund_no: str | None = None
    missing_from: str | None = None  # "provider", "ledger" or "journal" for MISSING_* items
    bill_fen: int | None = None
    ledger_fen: int | None = None
    journal_fen: int | None = None
    bill_status: str | None = None
    ledger_status: str | None = None
    journal_status: str | None = None
    terminal_id: str | None = None
    bill_line: int | None = None

    @property
    def is_open(self) -> bool:
        return self.kind is not Difference.SETTLED_FROM_BILL

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "channel": self.channel.value,
            "out_trade_no": self.out_trade_no,
            "out_refund_no": self.out_refund_no,
            "missing_from": self.missing_from,
            "bill_fen": self.bill_fen,
            "ledger_fen": self.ledger_fen,
            "journal_fen": self.journal_fen,
            "bill_status": self.bill_status,
            "ledger_status": self.ledger_status,
            "journal_status": self.journal_status,
            "terminal_id": self.terminal_id,
            "bill_line": self.bill_line,
            "detail": self.detail,
            "action": self.action,
            "open": self.is_open,
        }


@dataclass(frozen=True, slots=True)
class Settlement:
    """A ledger change the bill proves. ``out_refund_no`` set: a refund settled to SUCCESS."""

    channel: Channel
    out_trade_no: str
    target: PaymentState | RefundState
    amount_fen: int
    transaction_id: str | None = None
    out_refund_no: str | None = None
    at_s: int = 0  # the bill's time of day of the payment (seconds after local midnight)


#: One engine payment as the matcher reads it: (out_trade_no, state, amount_fen, terminal_id, due).
#: ``due`` is 1 when the payment must appear in this day's bill if it was paid (paid within the day).
LedgerRow = tuple[str, str, int, str, int]


@dataclass(slots=True)
class LedgerPayments:
    """The engine's payments of one channel, column by column.

    ``due`` marks the payments that must appear in this day's bill if they were paid (paid within
    the bill day); payments of the window that were paid on another day are matched when the bill
    has them and never reported missing.
    """

    out_trade_no: list[str] = field(default_factory=list)
    state: list[str] = field(default_factory=list)  # PaymentState values
    amount_fen: array[int] = field(default_factory=lambda: array("q"))
    terminal_id: list[str] = field(default_factory=list)
    due: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.out_trade_no)

    def __iter__(self) -> Iterator[LedgerRow]:
        return zip(self.out_trade_no, self.state, self.amount_fen, self.terminal_id, self.due, strict=True)

    def append(self, out_trade_no: str, state: str, amount_fen: int, terminal_id: str, due: bool) -> None:
        self.out_trade_no.append(out_trade_no)
        self.state.append(state)
        self.amount_fen.append(amount_fen)
        self.terminal_id.append(terminal_id)
        self.due.append(1 if due else 0)


@dataclass(frozen=True, slots=True)
class LedgerRefund:
    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    state: str  # RefundState value
    due: bool = True  # succeeded (or was asked for) within the bill day


@dataclass(frozen=True, slots=True)
class JournalSale:
    """A wallet payment as a terminal journaled it (the last state the terminal knew)."""

    out_trade_no: str
    terminal_id: str
    channel: Channel
    amount_fen: int
    state: str  # PaymentState value


#: A batch of payments the engine has as PAID, paid within the bill day, as two columns:
#: (out_trade_nos, amounts_fen), Python sequences or Arrow arrays (string, int64).
PaidBatch = tuple[Sequence[str] | Any, Sequence[int] | Any]
#: out_trade_nos → their terminal ids (for the few bulk-read payments that become items).
TerminalLookup = Callable[[list[str]], dict[str, str]]

#: Fetches ledger rows of other days for bill rows the day's window did not hold: payments
#: (out_trade_nos → LedgerPayments with due=0) and refunds (out_refund_nos → LedgerRefund list).
PaymentLookup = Callable[[list[str]], Iterable[LedgerRow]]
RefundLookup = Callable[[list[str]], list[LedgerRefund]]


@dataclass(slots=True)
class ChannelMatch:
    channel: Channel
    matched: int = 0
    ledger_paid: int = 0  # engine payments with money in, due in this bill (before settling)
    ledger_paid_fen: int = 0
    settled: list[Settlement] = field(default_factory=list)
    items: list[OpenItem] = field(default_factory=list)

    @property
    def open_items(self) -> list[OpenItem]:
        return [item for item in self.items if item.is_open]


_ACT_MISSING_AT_PROVIDER = (
    "Look the order up in the provider's merchant platform: if it was not paid, the goods left unpaid — "
    "contact the customer; if it was paid, the payment will be in a later bill."
)
_ACT_MISSING_LOCALLY = (
    "The provider collected money the engine has no record of: find the sale (time, terminal) and "
    "record it, or refund the customer from the merchant platform."
)
_ACT_AMOUNT = "Compare the receipt with the provider's record; refund or collect the difference."
_ACT_NOT_SYNCED = "Start terminal {terminal} so its journal syncs; if it lost the sale, re-enter it from the engine."
_ACT_DUPLICATE = "Report the duplicated bill line to the provider; nothing was charged twice in the engine."


def _fen(value: int | None) -> str:
    return "—" if value is None else format_fen(value)


@gc_paused
def match_channel(
    bill: Bill,
    ledger: Iterable[LedgerRow],
    refunds: Iterable[LedgerRefund] = (),
    journal: dict[str, JournalSale] | None = None,
    *,
    paid: Iterable[PaidBatch] = (),
    lookup_payments: PaymentLookup | None = None,
    lookup_refunds: RefundLookup | None = None,
    lookup_terminals: TerminalLookup | None = None,
) -> ChannelMatch:
    """Match one channel's bill against the engine's payments and refunds (and terminal journals).

    The engine's payments come in two parts, each read once. ``paid``, read first, is the bulk of
    a day: the payments the engine has as PAID and paid within the bill day, in batches of two
    columns (out_trade_nos, amounts: Python sequences or Arrow arrays); most of them equal their
    bill line and are matched in Arrow, all at once (see :func:`_match_paid`). ``ledger`` holds
    every other payment of the day's window as full rows. A payment must be in one part only; all
    of them may be in ``ledger`` (the result is the same). ``lookup_terminals`` names the
    terminals of the few ``paid`` payments that become items. ``journal`` is None when journals
    are not compared; otherwise it maps out_trade_no to what the terminals synced.
    """
    channel = bill.channel
    result = ChannelMatch(channel)
    items = result.items
    settled = result.settled
    b_status, b_amount = bill.status, bill.amount_fen

    # 1. The non-payment rows: reversals (by order) and refunds (walked in step 5), found in Arrow.
    kind, otn_all = bill.kind.arrow, bill.out_trade_no.arrow
    is_payment = pc.equal(kind, PAYMENT)
    other = pc.invert(is_payment)
    reversal = reversal_mask(bill)
    # orders whose bill shows the payment and its reversal (money back)
    reversals: set[str] = set(pc.filter(otn_all, reversal).to_pylist())
    refund_rows: list[int] = pc.indices_nonzero(pc.and_not(other, reversal)).to_pylist()
    pending_journal = {k: v for k, v in journal.items() if v.channel is channel} if journal is not None else None

    # 2. The bulk of PAID payments against the bill's payment rows, in Arrow; what is left of the
    # bill (rows no plain payment took) is indexed by out_trade_no for the walk.
    bulk = _match_paid(bill, paid, is_payment, reversals, pending_journal)
    index: dict[str, int] = dict(zip(bulk.left_otns, bulk.left_rows, strict=True))
    if len(index) != len(bulk.left_rows):
        _duplicates(bill, bulk.left_rows, bulk.left_otns, index, items)
    del bulk.left_rows, bulk.left_otns
    pop = index.pop
    matched, paid_count, paid_fen = bulk.matched, bulk.count, bulk.fen
    ledger_rows: Iterable[LedgerRow] = ledger
    differ = [(otn, amount, pop(otn, -1)) for otn, amount in bulk.differ]
    odd = bulk.odd + [otn for otn, _amount in bulk.differ]
    terminals = lookup_terminals(odd) if odd and lookup_terminals is not None else {}
    for otn, amount, j in differ:
        # Exactly what the walk below does with a PAID, due payment that is not plainly matched.
        matched += _classify(bill, j, otn, _PAID_STR, amount, True, terminals.get(otn, ""), items, settled, reversals)
        if pending_journal is not None:
            sale = pending_journal.pop(otn, None)
            _journal_row(channel, otn, _PAID_STR, amount, terminals.get(otn, ""), True, sale, items)
    for otn, amount, sale in bulk.journal_odd:
        _journal_row(channel, otn, _PAID_STR, amount, terminals.get(otn, ""), True, sale, items)

    # 3. Walk the other payments once; pop each key so what is left is missing locally.
    money_in, settled_states = _MONEY_IN, _SETTLED
    for otn, state, amount, terminal, due in ledger_rows:
        j = pop(otn, -1)
        if due and state in money_in:
            paid_count += 1
            paid_fen += amount
        if (
            j >= 0
            and b_status[j] == PAID
            and state in money_in
            and b_amount[j] == amount
            and (not reversals or otn not in reversals)
        ):
            matched += 1  # the common case: both say paid, same amount
        elif j < 0 and (not due or (state in settled_states and state not in money_in)):
            matched += 1  # nothing collected (or collected another day) and not in the bill: consistent
        else:
            before = len(settled)
            matched += _classify(bill, j, otn, state, amount, bool(due), terminal, items, settled, reversals)
            if len(settled) > before:
                state = settled[-1].target.value
        if pending_journal is not None:
            _journal_row(channel, otn, state, amount, terminal, bool(due), pending_journal.pop(otn, None), items)
    result.ledger_paid, result.ledger_paid_fen = paid_count, paid_fen

    # 4. Bill payments the day's window did not hold: ask the ledger about other days, else missing.
    if index:
        leftover = dict(index)
        other_days: Iterable[LedgerRow] = lookup_payments(list(leftover)) if lookup_payments is not None else ()
        for otn, state, amount, terminal, _due in other_days:
            j = leftover.pop(otn, -1)
            if j >= 0:
                matched += _classify(bill, j, otn, state, amount, False, terminal, items, settled, reversals)
        for otn, j in leftover.items():
            items.append(
                OpenItem(
                    Difference.MISSING_LOCALLY,
                    channel,
                    otn,
                    f"The provider's bill has a payment of {_fen(b_amount[j])} ({b_status[j]}) the engine has "
                    "no record of.",
                    _ACT_MISSING_LOCALLY if b_status[j] == PAID else "Nothing was collected (reversed); note it.",
                    missing_from="ledger",
                    bill_fen=b_amount[j],
                    bill_status=b_status[j],
                    bill_line=bill.line_no[j],
                )
            )
    result.matched = matched + _match_refunds(bill, refund_rows, refunds, lookup_refunds, result)
    if pending_journal:
        _journal_only(channel, pending_journal, items)
    return result


@dataclass(slots=True)
class _Bulk:
    matched: int = 0
    count: int = 0  # PAID payments due in this bill, and their amount
    fen: int = 0
    differ: list[tuple[str, int]] = field(default_factory=list)  # (out_trade_no, amount), not plainly matched
    journal_odd: list[tuple[str, int, JournalSale | None]] = field(default_factory=list)
    #: The bill's payment rows no plain payment took (row numbers, and their out_trade_nos).
    left_rows: list[int] = field(default_factory=list)
    left_otns: list[str] = field(default_factory=list)

    @property
    def odd(self) -> list[str]:
        return [otn for otn, _amount, _sale in self.journal_odd]


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


def _match_paid(
    bill: Bill,
    batches: Iterable[PaidBatch],
    is_payment: Any,
    reversals: set[str],
    journal: dict[str, JournalSale] | None,
) -> _Bulk:
    """Match the PAID, due payments against the bill's payment rows, all at once in Arrow.

    Why Arrow: walked one by one (or even a ``map`` at a time), a million payments cost a Python
    object or two each, and almost every one of them is plainly equal to its bill line. Here the
    join is a hash lookup in C (``index_in``). A payment is matched in bulk when the walk in
    :func:`match_channel` would count it matched without a word: its order number is on exactly
    one payment row of the bill (a repeated number goes to the walk, which reports the repeat),
    that row says PAID, has the same amount, and the order was not reversed. The other payments
    are returned in ``differ`` for the walk's own classification; journal differences in
    ``journal_odd``; the bill rows no plain payment took in ``left_rows``.
    """
    bulk = _Bulk()
    l_otn, l_amount = _arrow_batches(batches)
    bulk.count = len(l_otn)
    bulk.fen = pc.sum(l_amount).as_py() or 0
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
            pc.equal(pc.take(bill.kind.arrow, at), _PAYMENT_SCALAR),
            pc.equal(pc.take(bill.amount_fen.arrow, at), l_amount),
        ),
        pc.equal(pc.take(bill.status.arrow, at), _PAID_SCALAR),
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
    bulk.matched = pc.sum(plain).as_py() or 0
    if bulk.matched != len(l_otn):
        differ = pc.invert(plain)
        bulk.differ = list(
            zip(pc.filter(l_otn, differ).to_pylist(), pc.filter(l_amount, differ).to_pylist(), strict=True)
        )
    bulk.left_rows = left.to_pylist()
    bulk.left_otns = left_otns.to_pylist()
    if journal is not None and bulk.matched:
        otns, amounts = pc.filter(l_otn, plain).to_pylist(), pc.filter(l_amount, plain).to_pylist()
        _journal_bulk(otns, amounts, journal, bulk.journal_odd)
    return bulk


def _untaken(is_payment: Any, at: Any, plain: Any) -> Any:
    """The bill's payment rows that no plain payment took (the ledger's order numbers are unique,
    so each takes its own row): the taken rows marked by a scatter, no hash table."""
    taken = pc.filter(at, plain)
    marked = pc.scatter(pa.repeat(_TRUE, len(taken)), taken, max_index=len(is_payment) - 1)
    return pc.indices_nonzero(pc.and_not(is_payment, pc.fill_null(marked, False)))


_PAID_SCALAR = pa.scalar(PAID, pa.string())
_PAYMENT_SCALAR = pa.scalar(PAYMENT, pa.uint8())
_TRUE = pa.scalar(True)


def _journal_bulk(
    otns: Iterable[str],
    amounts: Iterable[int],
    pending: dict[str, JournalSale],
    odd: list[tuple[str, int, JournalSale | None]],
) -> None:
    """The third way for payments matched in bulk (PAID and due): keep those :func:`_journal_row`
    would report (no journal sale, another amount, or a final state without the money)."""
    for otn, amount in zip(otns, amounts, strict=True):
        sale = pending.pop(otn, None)
        if sale is None or sale.amount_fen != amount or (sale.state in _SETTLED and sale.state not in _MONEY_IN):
            odd.append((otn, amount, sale))


def _duplicates(
    bill: Bill, payment_rows: list[int], otns: list[str], index: dict[str, int], items: list[OpenItem]
) -> None:
    """A key seen twice: keep the first row for matching, report each repeat once."""
    # Only the rows of repeated keys are walked (found in C: dict(zip) kept the last row of each
    # key, so every earlier row of a repeated key points elsewhere); a Python loop over a million
    # rows, and a second million-key dict, for a few repeats would cost a second and 100 MB.
    earlier = list(compress(payment_rows, map(ne, map(index.__getitem__, otns), payment_rows)))
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
                _ACT_DUPLICATE,
                bill_fen=bill.amount_fen[i],
                bill_status=bill.status[i],
                bill_line=bill.line_no[i],
            )
        )
    for otn, j in first.items():
        if index.get(otn, j) != j and bill.status[index[otn]] != REVOKED:
            index[otn] = j


def _classify(
    bill: Bill,
    j: int,
    otn: str,
    state: str,
    amount: int,
    due: bool,
    terminal: str,
    items: list[OpenItem],
    settled: list[Settlement],
    reversals: set[str],
) -> int:
    """Classify one ledger payment against bill row ``j`` (-1: not in the bill). Returns 1 if matched."""
    channel = bill.channel
    if j < 0:
        if state in _MONEY_IN:
            items.append(
                OpenItem(
                    Difference.MISSING_AT_PROVIDER,
                    channel,
                    otn,
                    f"The engine has {otn} as {state} ({format_fen(amount)}) but the provider's bill does not list it.",
                    _ACT_MISSING_AT_PROVIDER,
                    missing_from="provider",
                    ledger_fen=amount,
                    ledger_status=state,
                    terminal_id=terminal,
                )
            )
            return 0
        if state in _SETTLED or not due:
            return 1
        items.append(
            OpenItem(
                Difference.STATUS_DIFFERS,
                channel,
                otn,
                f"The engine still has {otn} as {state}; the provider's bill shows no payment that day.",
                "The engine keeps querying and will close it; if it stays open, check it in the merchant platform.",
                ledger_fen=amount,
                ledger_status=state,
                terminal_id=terminal,
            )
        )
        return 0
    b_status, b_amount, line = bill.status[j], bill.amount_fen[j], bill.line_no[j]
    if b_status == PAID and otn in reversals:
        b_status = REVOKED  # paid, then reversed the same day: the reversal is the outcome
    txid = bill.transaction_id(j) or None
    if b_amount != amount:
        items.append(
            OpenItem(
                Difference.AMOUNT_DIFFERS,
                channel,
                otn,
                f"The bill says {format_fen(b_amount)}, the engine {format_fen(amount)} "
                f"(difference {format_fen(b_amount - amount)}).",
                _ACT_AMOUNT,
                bill_fen=b_amount,
                ledger_fen=amount,
                bill_status=b_status,
                ledger_status=state,
                terminal_id=terminal,
                bill_line=line,
            )
        )
        return 0
    if b_status == PAID:
        if state in _MONEY_IN:
            return 1
        if state not in _SETTLED:
            settled.append(Settlement(channel, otn, PaymentState.PAID, amount, txid, at_s=hms_seconds(bill.at_hms[j])))
            items.append(
                OpenItem(
                    Difference.SETTLED_FROM_BILL,
                    channel,
                    otn,
                    f"The engine had {otn} as {state}; the bill proves it was paid "
                    f"({format_fen(amount)}): set to PAID.",
                    "Nothing to do.",
                    bill_fen=b_amount,
                    ledger_fen=amount,
                    bill_status=b_status,
                    ledger_status=state,
                    terminal_id=terminal,
                    bill_line=line,
                )
            )
            return 1
        items.append(
            OpenItem(
                Difference.STATUS_DIFFERS,
                channel,
                otn,
                f"The provider collected {format_fen(b_amount)} for {otn} but the engine has it as {state}.",
                "Check the sale with the cashier: hand over the goods and record the sale, or refund the customer.",
                bill_fen=b_amount,
                ledger_fen=amount,
                bill_status=b_status,
                ledger_status=state,
                terminal_id=terminal,
                bill_line=line,
            )
        )
        return 0
    # The bill shows the payment reversed (WeChat REVOKED): the money went back.
    if state == _REVERSED or state in _NO_MONEY:
        return 1
    if state not in _SETTLED:
        settled.append(Settlement(channel, otn, PaymentState.REVERSED, amount, txid, at_s=hms_seconds(bill.at_hms[j])))
        items.append(
            OpenItem(
                Difference.SETTLED_FROM_BILL,
                channel,
                otn,
                f"The engine had {otn} as {state}; the bill proves it was reversed: set to REVERSED.",
                "Nothing to do.",
                bill_fen=b_amount,
                ledger_fen=amount,
                bill_status=b_status,
                ledger_status=state,
                terminal_id=terminal,
                bill_line=line,
            )
        )
        return 1
    items.append(
        OpenItem(
            Difference.STATUS_DIFFERS,
            channel,
            otn,
            f"The provider reversed {otn} (money returned) but the engine has it as {state}.",
            "Ask the customer to pay again or take the goods back; then void the sale.",
            bill_fen=b_amount,
            ledger_fen=amount,
            bill_status=b_status,
            ledger_status=state,
            terminal_id=terminal,
            bill_line=line,
        )
    )
    return 0


def reversal_mask(bill: Bill) -> Any:
    """Arrow mask of the refund-shaped rows that are reversals (WeChat 撤销, 交易状态 REVOKED; Alipay
    cancel of a paid trade, whose refund carries no request number and so goes by the out_trade_no)."""
    otn = bill.out_trade_no.arrow
    return pc.and_(
        pc.not_equal(bill.kind.arrow, PAYMENT),
        pc.or_(pc.equal(bill.status.arrow, REVOKED), pc.equal(bill.out_refund_no.arrow, otn)),
    )


def _match_refunds(
    bill: Bill,
    refund_rows: list[int],
    refunds: Iterable[LedgerRefund],
    lookup: RefundLookup | None,
    result: ChannelMatch,
) -> int:
    channel, items = bill.channel, result.items
    index: dict[str, int] = {}
    for i in refund_rows:
        rno = bill.out_refund_no[i]
        j = index.setdefault(rno, i)
        if j != i:
            items.append(
                OpenItem(
                    Difference.DUPLICATE_IN_BILL,
                    channel,
                    bill.out_trade_no[i],
                    f"Bill line {bill.line_no[i]} repeats refund {rno} of line {bill.line_no[j]}; it is counted once.",
                    _ACT_DUPLICATE,
                    out_refund_no=rno,
                    bill_fen=bill.amount_fen[i],
                    bill_status=bill.status[i],
                    bill_line=bill.line_no[i],
                )
            )
    matched = 0

    def one(refund: LedgerRefund, j: int) -> None:
        nonlocal matched
        rno = refund.out_refund_no
        if j < 0:
            if refund.state == RefundState.SUCCESS.value and refund.due:
                items.append(
                    OpenItem(
                        Difference.REFUND_DIFFERS,
                        channel,
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
            else:
                matched += 1
            return
        b_amount, b_status, line = bill.amount_fen[j], bill.status[j], bill.line_no[j]
        common = {
            "out_refund_no": rno,
            "bill_fen": b_amount,
            "ledger_fen": refund.amount_fen,
            "bill_status": b_status,
            "ledger_status": refund.state,
            "bill_line": line,
        }
        if b_amount != refund.amount_fen:
            items.append(
                OpenItem(
                    Difference.REFUND_DIFFERS,
                    channel,
                    refund.out_trade_no,
                    f"Refund {rno}: the bill says {format_fen(b_amount)}, the engine {format_fen(refund.amount_fen)}.",
                    _ACT_AMOUNT,
                    **common,  # type: ignore[arg-type]
                )
            )
            return
        if b_status == REFUND_SUCCESS and refund.state != RefundState.SUCCESS.value:
            if refund.state == RefundState.FAILED.value:
                items.append(
                    OpenItem(
                        Difference.REFUND_DIFFERS,
                        channel,
                        refund.out_trade_no,
                        f"Refund {rno} succeeded at the provider but the engine recorded it as failed.",
                        "Do not refund again; mark the refund done with the manager PIN.",
                        **common,  # type: ignore[arg-type]
                    )
                )
                return
            items.append(
                OpenItem(
                    Difference.REFUND_DIFFERS,
                    channel,
                    refund.out_trade_no,
                    f"Refund {rno} succeeded at the provider; the engine still has it as {refund.state}.",
                    "Nothing to pay out again: the engine confirms it on its next refund query; "
                    "if it stays open, mark it done with the manager PIN.",
                    **common,  # type: ignore[arg-type]
                )
            )
            return
        elif b_status == REFUND_FAILED and refund.state == RefundState.SUCCESS.value:
            items.append(
                OpenItem(
                    Difference.REFUND_DIFFERS,
                    channel,
                    refund.out_trade_no,
                    f"Refund {rno} failed at the provider but the engine recorded it as done.",
                    "The customer did not get the money back: refund again from the till.",
                    **common,  # type: ignore[arg-type]
                )
            )
            return
        matched += 1

    for refund in refunds:
        one(refund, index.pop(refund.out_refund_no, -1))
    if index and lookup is not None:
        for refund in lookup(list(index)):
            j = index.pop(refund.out_refund_no, -1)
            if j >= 0:
                one(LedgerRefund(refund.out_refund_no, refund.out_trade_no, refund.amount_fen, refund.state, False), j)
    for rno, j in index.items():
        otn = bill.out_trade_no[j]
        items.append(
            OpenItem(
                Difference.REFUND_DIFFERS,
                channel,
                otn,
                f"The provider's bill has a refund of {format_fen(bill.amount_fen[j])} ({rno}, {bill.status[j]}) "
                "that was not made through this system.",
                "Find out who refunded it in the merchant platform; record it against the sale for the day's totals.",
                out_refund_no=rno,
                missing_from="ledger",
                bill_fen=bill.amount_fen[j],
                bill_status=bill.status[j],
                bill_line=bill.line_no[j],
            )
        )
    return matched


def _journal_row(
    channel: Channel,
    otn: str,
    state: str,
    amount: int,
    terminal: str,
    due: bool,
    sale: JournalSale | None,
    items: list[OpenItem],
) -> None:
    """Third way, one payment: what its terminal journaled against the ledger (after settling)."""
    if sale is None:
        if state in _MONEY_IN and due:
            items.append(
                OpenItem(
                    Difference.MISSING_LOCALLY,
                    channel,
                    otn,
                    f"Terminal {terminal or '?'} has not synced the payment {otn} ({format_fen(amount)}).",
                    _ACT_NOT_SYNCED.format(terminal=terminal or "?"),
                    missing_from="journal",
                    ledger_fen=amount,
                    ledger_status=state,
                    terminal_id=terminal,
                )
            )
        return
    if sale.amount_fen != amount:
        items.append(
            OpenItem(
                Difference.AMOUNT_DIFFERS,
                channel,
                otn,
                f"Terminal {sale.terminal_id} journaled {format_fen(sale.amount_fen)}, "
                f"the engine {format_fen(amount)}.",
                _ACT_AMOUNT,
                ledger_fen=amount,
                journal_fen=sale.amount_fen,
                ledger_status=state,
                journal_status=sale.state,
                terminal_id=sale.terminal_id,
            )
        )
    elif sale.state in _SETTLED and state in _SETTLED and (sale.state in _MONEY_IN) != (state in _MONEY_IN):
        items.append(
            OpenItem(
                Difference.STATUS_DIFFERS,
                channel,
                otn,
                f"Terminal {sale.terminal_id} shows {otn} as {sale.state}, the engine as {state}.",
                "Open the sale on the terminal so it refreshes from the engine; if goods left unpaid, "
                "contact the customer.",
                ledger_fen=amount,
                journal_fen=sale.amount_fen,
                ledger_status=state,
                journal_status=sale.state,
                terminal_id=sale.terminal_id,
            )
        )


def _journal_only(channel: Channel, pending: dict[str, JournalSale], items: list[OpenItem]) -> None:
    """Paid wallet sales a terminal journaled that the engine's day does not hold."""
    for otn, sale in pending.items():
        if sale.state not in _MONEY_IN:
            continue
        items.append(
            OpenItem(
                Difference.MISSING_LOCALLY,
                channel,
                otn,
                f"Terminal {sale.terminal_id} journaled a paid {channel.label} sale {otn} "
                f"({format_fen(sale.amount_fen)}) the engine has no record of.",
                "Check the payment in the merchant platform and with the cashier.",
                missing_from="ledger",
                journal_fen=sale.amount_fen,
                journal_status=sale.state,
                terminal_id=sale.terminal_id,
            )
        )
