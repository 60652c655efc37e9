"""A parsed provider bill, held column by column so a million rows stay small.

One entry per detail line of the bill, in file order. Payment rows and refund rows share the
columns; ``kind`` tells them apart. Amounts are ``int`` fen (fees: ``int`` millifen, i.e. 1/1000 fen
= 1e-5 yuan, the precision of WeChat's fee column), never floats.
"""

from __future__ import annotations

import functools
import gc
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, ParamSpec, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from pos_app.domain.routing import Channel

PAYMENT = 0
REFUND = 1

# Arrow allocates through the C library's malloc in this process, not its bundled mimalloc: with
# the kernel's transparent huge pages, mimalloc's partly used 2 MB pages (and the freed ones it
# keeps) added ~65 MB to the peak memory of a million-row reconciliation, for no speed gained.
# Only the reconciliation uses Arrow in pos_app (set before any Arrow buffer is allocated).
pa.set_memory_pool(pa.system_memory_pool())

P = ParamSpec("P")
T = TypeVar("T")


def gc_paused(fn: Callable[P, T]) -> Callable[P, T]:
    """Run ``fn`` with the cyclic garbage collector paused.

    Parsing and matching a million rows allocates millions of short-lived lists and tuples; each
    700 allocations would start a collection that finds nothing to free (reference counting frees
    them), and those collections cost as much as the work itself. Process-wide, restored on exit,
    harmless if two overlap.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


#: Bill row status vocabulary shared by both parsers (interned strings, one object each).
PAID = "PAID"  # a payment the provider collected (WeChat SUCCESS/REFUND, Alipay 交易)
REVOKED = "REVOKED"  # WeChat: a codepay payment reversed (撤销)
REFUND_SUCCESS = "SUCCESS"
REFUND_PROCESSING = "PROCESSING"
REFUND_FAILED = "FAILED"

TXID_WIDTH = 32


def txid_kept(transaction_id: str) -> str:
    """A transaction id as the bill keeps it: blank when longer than TXID_WIDTH or not ASCII."""
    if len(transaction_id) > TXID_WIDTH or not transaction_id.isascii():
        return ""
    return transaction_id


class Column(Generic[T]):
    """One column of a parsed bill, held as an Arrow array (one buffer, not a million objects).

    Why Arrow: the matcher joins a million bill rows with a million ledger rows in Arrow kernels
    (C loops), and only the few rows that differ are read one by one here, as Python values.
    Reads like a read-only sequence: ``col[i]`` (negative too), ``len``, iteration, ``==`` a list.
    """

    __slots__ = ("arrow",)

    def __init__(self, arrow: Any) -> None:
        self.arrow = arrow  # a pyarrow Array or ChunkedArray

    def __len__(self) -> int:
        return len(self.arrow)

    def __getitem__(self, row: int) -> T:
        value: T = self.arrow[row].as_py()
        return value

    def __iter__(self) -> Iterator[T]:
        for start in range(0, len(self.arrow), _ITER_SLICE):
            yield from self.arrow.slice(start, _ITER_SLICE).to_pylist()

    def to_pylist(self) -> list[T]:
        values: list[T] = self.arrow.to_pylist()
        return values

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Column):
            return self.to_pylist() == other.to_pylist()
        if isinstance(other, list | tuple):
            return self.to_pylist() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Column({self.to_pylist()!r})" if len(self) <= 20 else f"Column(<{len(self)} values>)"


_ITER_SLICE = 1 << 16


@dataclass(slots=True)
class Bill:
    """A whole day's bill of one channel; every column has one entry per detail row, in file order.

    Built once by a parser (:class:`BillBuilder` row by row, or the WeChat fast path straight from
    Arrow arrays) and only read afterwards.
    """

    channel: Channel
    source: str  # e.g. "WeChat Pay bill 2026-11-21" — used in messages
    bill_date: date | None
    line_no: Column[int]
    kind: Column[int]  # PAYMENT / REFUND (uint8)
    out_trade_no: Column[str]
    #: Provider transaction ids (blank when an id is longer than TXID_WIDTH or not ASCII).
    txids: Column[str]
    out_refund_no: Column[str]  # "" on payment rows
    status: Column[str]  # PAID/REVOKED, or the refund status on refund rows
    #: Payment rows: the order amount; refund rows: the refund amount (positive).
    amount_fen: Column[int]
    #: What the merchant is credited: 应结订单金额 / 商家实收 (refund rows: the amount taken back, positive).
    settle_fen: Column[int]
    #: Provider fee of the row; negative on refund rows when the fee is returned.
    fee_millifen: Column[int]
    #: Time of day of the row (payment success / refund time) as the integer HHMMSS (91502 = 09:15:02).
    at_hms: Column[int]
    #: hash() of the raw line without its line break: tells a repeated line from a changed one.
    line_hash: Column[int]
    #: The file's own summary figures (already checked against the rows), for the report.
    summary: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kind)

    def transaction_id(self, row: int) -> str:
        return self.txids[row].rstrip()

    @classmethod
    def from_arrow(
        cls, channel: Channel, source: str, bill_date: date | None, columns: dict[str, Any], summary: dict[str, int]
    ) -> Bill:
        """A bill from Arrow arrays (or chunked arrays) named like the fields, all of one length."""
        return cls(
            channel,
            source,
            bill_date,
            **{name: Column(columns[name]) for name in ARROW_TYPES},
            summary=summary,
        )


#: The Arrow type of each column (what the matcher's kernels rely on).
ARROW_TYPES: dict[str, Any] = {
    "line_no": pa.int64(),
    "kind": pa.uint8(),
    "out_trade_no": pa.string(),
    "txids": pa.string(),
    "out_refund_no": pa.string(),
    "status": pa.string(),
    "amount_fen": pa.int64(),
    "settle_fen": pa.int64(),
    "fee_millifen": pa.int64(),
    "at_hms": pa.int64(),
    "line_hash": pa.int64(),
}


@dataclass(slots=True)
class BillBuilder:
    """A bill being parsed row by row (the pure-Python parsers): Python lists, then :meth:`finish`."""

    channel: Channel
    source: str
    bill_date: date | None = None
    line_no: array[int] = field(default_factory=lambda: array("q"))
    kind: bytearray = field(default_factory=bytearray)
    out_trade_no: list[str] = field(default_factory=list)
    txids: list[str] = field(default_factory=list)
    out_refund_no: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    amount_fen: array[int] = field(default_factory=lambda: array("q"))
    settle_fen: array[int] = field(default_factory=lambda: array("q"))
    fee_millifen: array[int] = field(default_factory=lambda: array("q"))
    at_hms: array[int] = field(default_factory=lambda: array("q"))
    line_hash: array[int] = field(default_factory=lambda: array("q"))
    summary: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kind)

    def append(
        self,
        *,
        line_no: int,
        kind: int,
        out_trade_no: str,
        transaction_id: str,
        out_refund_no: str,
        status: str,
        amount_fen: int,
        settle_fen: int,
        fee_millifen: int,
        line_hash: int,
        at_hms: int = 0,
    ) -> None:
        self.line_no.append(line_no)
        self.kind.append(kind)
        self.out_trade_no.append(out_trade_no)
        self.txids.append(txid_kept(transaction_id))
        self.out_refund_no.append(out_refund_no)
        self.status.append(status)
        self.amount_fen.append(amount_fen)
        self.settle_fen.append(settle_fen)
        self.fee_millifen.append(fee_millifen)
        self.line_hash.append(line_hash)
        self.at_hms.append(at_hms)

    def finish(self) -> Bill:
        n = len(self.kind)
        columns: dict[str, Any] = {}
        for name, kind in ARROW_TYPES.items():
            values = getattr(self, name)
            if isinstance(values, array | bytearray):
                # The array's own buffer, copied once (no Python int per value).
                columns[name] = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(bytes(values))])
            else:
                columns[name] = pa.array(values, kind)
        return Bill.from_arrow(self.channel, self.source, self.bill_date, columns, dict(self.summary))


def reversal_mask(bill: Bill) -> Any:
    """Arrow mask of the refund-shaped rows that are reversals (WeChat 撤销, 交易状态 REVOKED; Alipay
    cancel of a paid trade, whose refund carries no request number and so goes by the out_trade_no)."""
    otn = bill.out_trade_no.arrow
    return pc.and_(
        pc.not_equal(bill.kind.arrow, PAYMENT),
        pc.or_(pc.equal(bill.status.arrow, REVOKED), pc.equal(bill.out_refund_no.arrow, otn)),
    )
