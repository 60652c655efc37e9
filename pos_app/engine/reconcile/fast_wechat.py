"""C-level fast path for the WeChat Pay trade bill (pyarrow), with the pure-Python parser as the judge.

The detail rows are cut into blocks of whole lines and each block is read by ``pyarrow.csv`` (all
columns as strings), its fields split on ",`" exactly as the pure-Python parser splits them, and only
the columns the reconciliation needs are converted, exactly, to int fen / millifen (digits, never
floats). The result is the same ``Bill`` the pure-Python parser builds, except ``line_hash``, which is
the hash of the raw line's bytes instead of its text (equal exactly when the lines are equal, which
is all it is used for).

``parse_fast`` returns None on anything that does not fit the bill's usual shape (a pyarrow error, a
bad amount, a summary mismatch, ...); the caller then runs the pure-Python parser, which names the
exact bad line. So a file is only ever rejected by the pure-Python parser.
"""

from __future__ import annotations

import io
import re
from array import array
from collections.abc import Callable
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pos_app.domain.errors import AmountError
from pos_app.domain.routing import Channel
from pos_app.engine.reconcile import wechat_bill as wb
from pos_app.engine.reconcile.bill import PAID, REFUND, REVOKED, TXID_WIDTH, Bill, fen, gc_paused, millifen

_BLOCK = 4 << 20
_BOM = b"\xef\xbb\xbf"
_NOT_DETAIL = re.compile(rb"\n[^`]")
_AMOUNT = r"^-?\d+\.\d\d$"
_FEE = r"^-?\d+\.\d{5}$"
_TIME = r"^`\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d$"
_SEP = b"\x1f"


#: The columns the bill is built from (the others are only counted: one backtick after each comma).
_READ = frozenset(
    ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额", "订单金额", "手续费", "商户退款单号",
     "退款金额", "充值券退款金额", "申请退款金额", "退款状态")
)  # fmt: skip


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
    summary_header = wb._HEADERS.get(header)
    if summary_header is None:
        raise _Unfit
    names = header.split(",")
    col = {name: i for i, name in enumerate(names)}
    bill = Bill(Channel.WECHAT, source, bill_date)
    sums = dict.fromkeys(("应结订单金额", "退款金额", "充值券退款金额", "手续费", "订单金额", "申请退款金额"), 0)
    pending = buf[nl + 1 :]
    first = 2
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
            first = _block(bill, block, first, names, col, sums)
            break
        cut = pending.rfind(b"\n") + 1
        if eof:
            raise _Unfit  # no summary
        if cut:
            block, pending = pending[:cut], pending[cut:]
            first = _block(bill, block, first, names, col, sums)
    if not eof:
        while more := read(_BLOCK):
            tail += more
    _summary(bill, tail.decode("utf-8"), summary_header, sums)
    return bill


def _check_utf8(data: bytes) -> None:
    """Raise ``pa.ArrowInvalid`` unless ``data`` is UTF-8: Arrow's check, three times faster than
    ``bytes.decode`` and without building a string of the whole block."""
    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]
    pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)]).cast(pa.string())


def _ints(column: Any, pattern: str) -> Any:
    if not pc.all(pc.match_substring_regex(column, pattern)).as_py():
        raise _Unfit
    return pc.cast(pc.replace_substring(column, ".", ""), pa.int64())


def _q(values: Any) -> array[int]:
    out = array("q")
    out.fromlist(values.to_pylist())
    return out


def _block(bill: Bill, block: bytes, first: int, names: list[str], col: dict[str, int], sums: dict[str, int]) -> int:
    """Parse one block of whole detail lines (``first`` = line number of its first); the next line number."""
    lines = block.split(b"\n")
    lines.pop()  # after the final "\n"
    n = len(lines)
    width = len(names)
    read = [name for name in names if name in _READ]
    # Fields are separated by ",`" (every field starts with a backtick), which is exactly how the
    # pure-Python parser splits a line: turned into one unit-separator byte, the reader splits the
    # same way, a comma inside a field stays in it, and no column needs its backtick stripped.
    # (A unit separator already in the text makes a line too wide: the pure-Python parser decides.)
    data = block.replace(b",`", _SEP)
    _check_utf8(data)  # every byte, read or not: a bill that is not UTF-8 text is the exact parser's to reject
    table = pacsv.read_csv(
        pa.BufferReader(data),
        # Single-threaded: on the 2-core benchmark machine the reader's threads cost more CPU and
        # ~30 MB more peak memory than they saved.
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 20),
        parse_options=pacsv.ParseOptions(
            delimiter=_SEP.decode(), quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=read,
            column_types=dict.fromkeys(read, pa.binary()),  # already checked as UTF-8, as a whole
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    # Every row has exactly ``width`` fields (the reader refuses any other count, and a lone CR would
    # make an extra row).
    if table.num_rows != n:
        raise _Unfit
    table = table.combine_chunks()
    cols: list[Any] = [None] * width
    for name in read:
        column = table.column(name)
        cols[col[name]] = column.chunk(0).view(pa.string()) if column.num_chunks else pa.array([], pa.string())
    zeros = pa.repeat(pa.scalar(0, pa.int64()), n)

    def amount(name: str) -> Any:
        i = col.get(name)
        if i is None:
            return zeros
        # Most lines are payments, whose refund columns all say 0.00: one comparison settles the
        # column instead of checking and converting each value (a third of the work).
        if pc.all(pc.equal(cols[i], "0.00")).as_py():
            return zeros
        return _ints(cols[i], _AMOUNT)

    total, refund, coupon, req = (amount(k) for k in ("订单金额", "退款金额", "充值券退款金额", "申请退款金额"))
    # Without vouchers the settlement column repeats the order amounts: reuse them when it does.
    settle = (
        total if pc.all(pc.equal(cols[col["应结订单金额"]], cols[col["订单金额"]])).as_py() else amount("应结订单金额")
    )
    fee = _ints(cols[col["手续费"]], _FEE)
    times = cols[0]  # the line's own leading backtick is still on the first field
    if not pc.all(pc.match_substring_regex(times, _TIME)).as_py():
        raise _Unfit
    hms = pc.cast(pc.replace_substring(pc.utf8_slice_codeunits(times, 12, 20), ":", ""), pa.int64())
    if n and pc.max(hms).as_py() > 235959:
        raise _Unfit
    otns = cols[col["商户订单号"]]
    if pc.any(pc.equal(otns, "")).as_py():
        raise _Unfit
    states = cols[col["交易状态"]]
    if not pc.all(pc.is_in(states, pa.array(["SUCCESS", "REFUND", "REVOKED"]))).as_py():
        raise _Unfit
    status = [PAID] * n
    for k in pc.indices_nonzero(pc.equal(states, "REVOKED")).to_pylist():
        status[k] = REVOKED
    kinds = bytearray(n)
    amount_l, settled_l = total.to_pylist(), settle.to_pylist()
    refund_l, req_l = refund.to_pylist(), req.to_pylist()
    refund_nos = [""] * n
    rno_i, rstatus_i = col.get("商户退款单号"), col.get("退款状态")
    if rno_i is not None and rstatus_i is not None:
        rnos = cols[rno_i]
        refund_rows = pc.indices_nonzero(pc.invert(pc.is_in(rnos, pa.array(list(wb._EMPTY_REFUND_NO))))).to_pylist()
        for k in refund_rows:
            refund_status = wb._REFUND_STATUS.get(cols[rstatus_i][k].as_py())
            if refund_status is None:
                raise _Unfit
            status[k] = REVOKED if states[k].as_py() == "REVOKED" else refund_status
            kinds[k] = REFUND
            refund_nos[k] = rnos[k].as_py()
            amount_l[k] = req_l[k] or refund_l[k]
            settled_l[k] = refund_l[k]
    txids = cols[col["微信订单号"]]
    if n and (pc.max(pc.utf8_length(txids)).as_py() > TXID_WIDTH or not pc.all(pc.string_is_ascii(txids)).as_py()):
        raise _Unfit
    padded = pc.utf8_rpad(txids, TXID_WIDTH, " ")
    data = padded.buffers()[2]
    raw = b"" if data is None or n == 0 else data.to_pybytes()[: n * TXID_WIDTH]
    if len(raw) != n * TXID_WIDTH:
        raise _Unfit
    for name, values in (
        ("应结订单金额", settle), ("订单金额", total), ("手续费", fee), ("退款金额", refund),
        ("充值券退款金额", coupon), ("申请退款金额", req),
    ):  # fmt: skip
        sums[name] += pc.sum(values).as_py() or 0
    bill.txids += raw
    bill.line_no.fromlist(list(range(first, first + n)))
    bill.kind += kinds
    bill.out_trade_no.extend(otns.to_pylist())
    bill.out_refund_no.extend(refund_nos)
    bill.status.extend(status)
    bill.amount_fen.fromlist(amount_l)
    bill.settle_fen.fromlist(settled_l)
    bill.fee_millifen.extend(_q(fee))
    bill.line_hash.fromlist(list(map(hash, lines)))
    bill.at_hms.extend(_q(hms))
    return first + n


def _summary(bill: Bill, tail: str, summary_header: str, sums: dict[str, int]) -> None:
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
    for name, value in zip(summary_names, values, strict=True):
        column = wb._SUMMARY_OF[name]
        if column is None:
            if not (value.isascii() and value.isdigit()):
                raise _Unfit
            stated, actual = int(value), len(bill)
        elif column == "手续费":
            stated, actual = millifen(value), sums[column]
        else:
            stated, actual = fen(value), sums[column]
        if stated != actual:
            raise _Unfit
        bill.summary[name] = stated
    if any(raw.strip() for raw in lines[2:]):
        raise _Unfit
