"""C-level fast path for the WeChat Pay trade bill (pyarrow), with the pure-Python parser as the judge.

The detail rows are cut into blocks of whole lines and each block is read by ``pyarrow.csv``, its
fields split exactly as the pure-Python parser splits them (on ",`"), and only the columns the
reconciliation needs are converted, exactly, to int fen / millifen (digits, never floats), as Arrow
arrays that the bill keeps as they are (no Python object per row). The result is the same ``Bill``
the pure-Python parser builds, except ``line_hash``, which is the hash of the raw line's bytes
instead of its text (equal exactly when the lines are equal, which is all it is used for).

``parse_fast`` returns None on anything that does not fit the bill's usual shape (a pyarrow error, a
bad amount, a summary mismatch, ...); the caller then runs the pure-Python parser, which names the
exact bad line. So a file is only ever rejected by the pure-Python parser.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pos_app.domain.errors import AmountError
from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.bill import ARROW_TYPES, PAID, PAYMENT, REVOKED, TXID_WIDTH, Bill, gc_paused
from pos_app.engine.reconcile.bill_values import fen, millifen
from pos_app.engine.reconcile.wechat_format import (
    EMPTY_REFUND_NO,
    READ_COLUMNS,
    REFUND_STATUS,
    SUMMARY_HEADERS,
    SUMMARY_OF,
    SUMMED_COLUMNS,
    TRADE_REVOKED,
    TRADE_STATUS,
)

_BLOCK = 4 << 20
_BOM = b"\xef\xbb\xbf"
_NOT_DETAIL = re.compile(rb"\n[^`]")
_AMOUNT = r"^-?\d+\.\d\d$"
_FEE = r"^-?\d+\.\d{5}$"
_TIME = r"^\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d$"
_SEP = b"\x1f"
_CSV_BLOCK = 1 << 20
_NO_STOP = 1 << 30
_TRADE_STATES = pa.array(list(TRADE_STATUS))
# Kernel arguments as Arrow scalars and arrays, built once: a Python value passed to a kernel is
# converted on every call, and that conversion tries to import dateutil (absent) each time.
_EMPTY = pa.scalar("", pa.string())
_PAID = pa.scalar(PAID, pa.string())
_REVOKED = pa.scalar(REVOKED, pa.string())
_REVOKED_STATE = pa.scalar(TRADE_REVOKED, pa.string())
_ZERO_FEN = pa.scalar(0, pa.int64())
_ONE = pa.scalar(1, pa.int64())
#: The raw 0.00 and "no refund number" fields, with their backtick (plain split) or without.
_ZERO = {True: pa.scalar(b"`0.00", pa.binary()), False: pa.scalar(b"0.00", pa.binary())}
_NO_REFUND = {
    True: pa.array([b"`" + no.encode() for no in EMPTY_REFUND_NO], pa.binary()),
    False: pa.array([no.encode() for no in EMPTY_REFUND_NO], pa.binary()),
}
_REFUND_STATUS_KEYS = pa.array(list(REFUND_STATUS))
_REFUND_STATUS_VALUES = pa.array(list(REFUND_STATUS.values()))


class _Unfit(Exception):
    """The input is not in the shape the fast path handles: let the pure-Python parser judge it."""


@gc_paused
def parse_fast(read: Callable[[int], bytes], *, source: str, bill_date: date | None) -> Bill | None:
    """Parse a bill from a byte stream's ``read``; None when the pure-Python parser must decide."""
    try:
        return _parse(read, source, bill_date)
    except (
        _Unfit,
        AmountError,
        pa.ArrowException,
        UnicodeDecodeError,
        ValueError,
        KeyError,
        IndexError,
        OSError,
        EOFError,
    ):
        return None
    finally:
        # The blocks' Arrow buffers are all freed by now, but the allocator keeps their pages for
        # reuse: hand them back, or the matcher that runs next starts ~30 MB nearer the memory cap.
        pa.default_memory_pool().release_unused()


def _parse(read: Callable[[int], bytes], source: str, bill_date: date | None) -> Bill:
    buf = read(_BLOCK)
    if buf.startswith(_BOM):
        buf = buf[len(_BOM) :]
    nl = buf.find(b"\n")
    if nl < 0:
        raise _Unfit
    header = buf[:nl].decode("utf-8").removesuffix("\r")
    summary_header = SUMMARY_HEADERS.get(header)
    if summary_header is None:
        raise _Unfit
    names = header.split(",")
    col = {name: i for i, name in enumerate(names)}
    chunks: dict[str, list[Any]] = {name: [] for name in ARROW_TYPES}
    sums = dict.fromkeys(SUMMED_COLUMNS, 0)
    # Two stages, one block apart: this thread reads (inflates) the next block and cuts its lines
    # (work that holds the GIL) while a worker thread runs the CSV reader and the column kernels
    # of the previous one (C code that releases it), so on two cores they overlap. Blocks are
    # collected in order; at most two are in flight.
    blocks = _Blocks(chunks, sums, names, col)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bill-columns") as worker:
        blocks.worker = worker
        pending = buf[nl + 1 :]
        tail = b""
        eof = False
        while True:
            if not eof and len(pending) < _BLOCK:
                more = read(_BLOCK)
                if more:
                    pending += more
                else:
                    eof = True
            # The detail rows end at the first line that does not start with a backtick.
            if pending and not pending.startswith(b"`"):
                tail, pending = pending, b""
                break
            stop = _NOT_DETAIL.search(pending)
            if stop is not None:
                block, tail = pending[: stop.start() + 1], pending[stop.start() + 1 :]
                blocks.add(block)
                break
            cut = pending.rfind(b"\n") + 1
            if eof:
                raise _Unfit  # no summary
            if cut:
                block, pending = pending[:cut], pending[cut:]
                blocks.add(block)
        del pending
        blocks.finish()
    first = blocks.first
    if not eof:
        while more := read(_BLOCK):
            tail += more
    count = first - 2
    summary = _summary(count, tail.decode("utf-8"), summary_header, sums)
    columns = {name: pa.chunked_array(parts, ARROW_TYPES[name]) for name, parts in chunks.items()}
    return Bill.from_arrow(Channel.WECHAT, source, bill_date, columns, summary)


def _check_utf8(data: bytes) -> None:
    """Raise ``pa.ArrowInvalid`` unless ``data`` is UTF-8: Arrow's check, faster than ``bytes.decode``
    and without building a string of the whole block."""
    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]
    pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.string())


def _numbers(first: int, n: int) -> Any:
    """first, first + 1, ... (n of them) as an int64 array, in C (``pa.array(range(...))`` goes
    through a Python int per value)."""
    return pc.cumulative_sum(pa.repeat(_ONE, n), start=pa.scalar(first - 1, pa.int64()))


def _ints(column: Any, pattern: str, decimals: int) -> Any:
    """Decimal texts (checked against ``pattern``: ASCII, ``decimals`` digits after the point) to
    integers in units of the last digit: the point cut out at its known place, then parsed."""
    if not pc.all(pc.match_substring_regex(column, pattern)).as_py():
        raise _Unfit
    point = -decimals - 1
    return pc.cast(pc.binary_replace_slice(column, point, point + 1, ""), pa.int64())


def _read_csv(data: bytes, delimiter: str, names: list[str], read: list[str]) -> Any:
    return pacsv.read_csv(
        pa.BufferReader(data),
        # Single-threaded: on the 2-core benchmark machine the reader's threads cost more CPU and
        # ~30 MB more peak memory than they saved.
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=_CSV_BLOCK),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=read,
            column_types=dict.fromkeys(read, pa.binary()),  # already checked as UTF-8, as a whole
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


class _Blocks:
    """The blocks of detail lines, cut here and parsed into columns by the worker, in order."""

    def __init__(self, chunks: dict[str, list[Any]], sums: dict[str, int], names: list[str], col: dict[str, int]):
        self.chunks, self.sums, self.names, self.col = chunks, sums, names, col
        self.first = 2  # line number of the next block's first line
        self.worker: ThreadPoolExecutor | None = None
        self._job: tuple[Future[tuple[dict[str, Any], dict[str, int]]], Any] | None = None

    def add(self, block: bytes) -> None:
        lines = block.split(b"\n")
        lines.pop()  # after the final "\n"
        n = len(lines)
        # hash() of each raw line (tells a repeated line from a changed one), on this side: it
        # needs the GIL, like the split.
        hashes = pa.array(map(hash, lines), pa.int64())
        del lines
        # See _columns: whether every comma of the block is a field separator.
        plain = block.count(b",`") == n * (len(self.names) - 1)
        if self.worker is None:
            raise RuntimeError("no worker")
        job = self.worker.submit(_columns, block, n, plain, self.first, self.names, self.col)
        self.first += n
        self._collect()
        self._job = (job, hashes)

    def finish(self) -> None:
        self._collect()

    def _collect(self) -> None:
        if self._job is None:
            return
        job, hashes = self._job
        self._job = None
        arrays, sums = job.result()
        arrays["line_hash"] = hashes
        for name, values in arrays.items():
            self.chunks[name].append(values)
        for name, value in sums.items():
            self.sums[name] += value


def _columns(
    block: bytes, n: int, plain: bool, first: int, names: list[str], col: dict[str, int]
) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse one block of ``n`` whole detail lines (``first`` = line number of its first) into
    Arrow arrays (all but line_hash) and the sums of its amount columns.

    ``plain``: the block holds exactly width - 1 ",`" per line (counted by the caller).
    """
    read = [name for name in names if name in READ_COLUMNS]
    # The pure-Python parser splits a line on ",`" (every field starts with a backtick). Splitting
    # on "," is the same split exactly when every comma is followed by a backtick: the reader
    # refuses a line without exactly width - 1 commas, so with that many ",`" in the block, no
    # comma is inside a field. This costs a count, where rewriting every separator cost a copy
    # of the block. A block with a comma inside a field (a product name, say) takes the other
    # way: the separators turned into one unit-separator byte, so the reader splits exactly like
    # the pure-Python parser and the comma stays in its field. (A unit separator already in the
    # text makes a line too wide: the pure-Python parser decides.)
    _check_utf8(block)  # every byte, read or not: a bill that is not UTF-8 text is the exact parser's to reject
    table = None
    if plain:
        try:
            table = _read_csv(block, ",", names, read)
        except pa.ArrowInvalid:
            plain = False  # a line with more commas than separators
    if table is None:
        table = _read_csv(block.replace(b",`", _SEP), _SEP.decode(), names, read)
    # Every row has exactly ``width`` fields (the reader refuses any other count, and a lone CR would
    # make an extra row).
    if table.num_rows != n:
        raise _Unfit
    table = table.combine_chunks()  # one array per column: the kernels below return arrays
    raw: dict[int, Any] = {}
    for name in read:
        column = table.column(name)
        raw[col[name]] = column.chunk(0) if column.num_chunks else pa.array([], pa.binary())
    del table
    # Split on ",", each field still starts with its backtick (the first field: the line's).
    texts: dict[int, Any] = {}

    def text(i: int) -> Any:
        """Column ``i`` as strings, without the backtick (cut only for the columns that need it)."""
        if i not in texts:
            # An explicit stop: pyarrow's default one fails on an empty remainder.
            texts[i] = (pc.binary_slice(raw[i], 1, _NO_STOP) if plain else raw[i]).cast(pa.string())
        return texts[i]

    zeros = pa.repeat(_ZERO_FEN, n)

    def amount(name: str) -> Any:
        i = col.get(name)
        if i is None:
            return zeros
        # Most lines are payments, whose refund columns all say 0.00: one comparison settles the
        # column instead of checking and converting each value (a third of the work).
        if pc.all(pc.equal(raw[i], _ZERO[plain])).as_py():
            return zeros
        return _ints(text(i), _AMOUNT, 2)

    total, refund, coupon, req = (amount(k) for k in ("订单金额", "退款金额", "充值券退款金额", "申请退款金额"))
    # Without vouchers the settlement column repeats the order amounts: reuse them when it does.
    settle = (
        total if pc.all(pc.equal(raw[col["应结订单金额"]], raw[col["订单金额"]])).as_py() else amount("应结订单金额")
    )
    fee = _ints(text(col["手续费"]), _FEE, 5)
    times = text(0) if plain else pc.utf8_slice_codeunits(text(0), 1)  # without the line's backtick
    if not pc.all(pc.match_substring_regex(times, _TIME)).as_py():
        raise _Unfit
    # "yyyy-MM-dd HH:mm:ss" (checked, ASCII) -> HHmmss: the date and the colons cut at their places.
    clock = pc.binary_replace_slice(times, 0, 11, "")
    hms = pc.cast(pc.binary_replace_slice(pc.binary_replace_slice(clock, 5, 6, ""), 2, 3, ""), pa.int64())
    if n and pc.max(hms).as_py() > 235959:
        raise _Unfit
    otns = text(col["商户订单号"])
    if pc.any(pc.equal(otns, _EMPTY)).as_py():
        raise _Unfit
    states = text(col["交易状态"])
    if not pc.all(pc.is_in(states, _TRADE_STATES)).as_py():
        raise _Unfit
    revoked = pc.equal(states, _REVOKED_STATE)
    status = pc.if_else(revoked, _REVOKED, _PAID)
    kinds: Any = pa.repeat(pa.scalar(PAYMENT, pa.uint8()), n)
    amounts, settled = total, settle
    refund_nos: Any = pa.repeat(pa.scalar("", pa.string()), n)
    rno_i, rstatus_i = col.get("商户退款单号"), col.get("退款状态")
    if rno_i is not None and rstatus_i is not None:
        refund_rows = pc.invert(pc.is_in(raw[rno_i], _NO_REFUND[plain]))
        if pc.any(refund_rows).as_py():
            rnos = text(rno_i)
            refund_status = pc.take(_REFUND_STATUS_VALUES, pc.index_in(text(rstatus_i), _REFUND_STATUS_KEYS))
            if pc.any(pc.and_kleene(refund_rows, pc.is_null(refund_status))).as_py():
                raise _Unfit  # an unknown refund status
            # A reversal (撤销, 交易状态 REVOKED) is shaped like a refund: the money went back.
            status = pc.if_else(refund_rows, pc.if_else(revoked, _REVOKED, refund_status), status)
            kinds = pc.cast(refund_rows, pa.uint8())
            refund_nos = pc.if_else(refund_rows, rnos, _EMPTY)
            amounts = pc.if_else(refund_rows, pc.if_else(pc.not_equal(req, _ZERO_FEN), req, refund), total)
            settled = pc.if_else(refund_rows, refund, settle)
    txids = text(col["微信订单号"])
    if n and (pc.max(pc.utf8_length(txids)).as_py() > TXID_WIDTH or not pc.all(pc.string_is_ascii(txids)).as_py()):
        raise _Unfit
    sums: dict[str, int] = {}
    for name, values in (
        ("应结订单金额", settle), ("订单金额", total), ("手续费", fee), ("退款金额", refund),
        ("充值券退款金额", coupon), ("申请退款金额", req),
    ):  # fmt: skip
        sums[name] = pc.sum(values).as_py() or 0
    arrays = {
        "line_no": _numbers(first, n),
        "kind": kinds,
        "out_trade_no": otns,
        "txids": txids,
        "out_refund_no": refund_nos,
        "status": status,
        "amount_fen": amounts,
        "settle_fen": settled,
        "fee_millifen": fee,
        "at_hms": hms,
    }
    return arrays, sums


def _summary(count: int, tail: str, summary_header: str, sums: dict[str, int]) -> dict[str, int]:
    lines = io.StringIO(tail, newline="").readlines()
    if len(lines) < 2 or lines[0].strip() != summary_header:
        raise _Unfit
    data = lines[1].rstrip("\r\n")
    if not data.startswith("`"):
        raise _Unfit
    values = data[1:].split(",`")
    summary_names = summary_header.split(",")
    if len(values) != len(summary_names):
        raise _Unfit
    summary: dict[str, int] = {}
    for name, value in zip(summary_names, values, strict=True):
        column = SUMMARY_OF[name]
        if column is None:
            if not (value.isascii() and value.isdigit()):
                raise _Unfit
            stated, actual = int(value), count
        elif column == "手续费":
            stated, actual = millifen(value), sums[column]
        else:
            stated, actual = fen(value), sums[column]
        if stated != actual:
            raise _Unfit
        summary[name] = stated
    if any(raw.strip() for raw in lines[2:]):
        raise _Unfit
    return summary
