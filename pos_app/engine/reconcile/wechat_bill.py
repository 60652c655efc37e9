"""Parser of the WeChat Pay trade bill (交易账单, specs/wechatpay-v3.md §5), streamed line by line.

Layout: a header line; one detail line per record where every field starts with a backtick
(an empty field is a lone backtick); a summary header line (no backticks); one summary data line.
The file's own summary is checked against the sum of its rows; any mismatch, a wrong column count,
a bad amount or a missing summary rejects the whole file with the line number.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import chain, islice, repeat
from pathlib import Path

from isal import igzip

from pos_app.domain.errors import AmountError
from pos_app.domain.money import fen_to_yuan
from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.bill import REFUND, REVOKED, TXID_WIDTH, Bill, BillBuilder, gc_paused, txid_kept
from pos_app.engine.reconcile.bill_values import fen, format_millifen, hms_of, millifen
from pos_app.engine.reconcile.errors import BillFormatError
from pos_app.engine.reconcile.fast_wechat import parse_fast
from pos_app.engine.reconcile.wechat_format import (
    EMPTY_REFUND_NO,
    REFUND_STATUS,
    SUMMARY_HEADERS,
    SUMMARY_OF,
    SUMMED_COLUMNS,
    TRADE_REVOKED,
    TRADE_STATUS,
)


def _strip(line: str) -> str:
    return line.rstrip("\r\n").lstrip("\ufeff")


@gc_paused
def parse_wechat_bill(lines: Iterable[str], *, source: str = "WeChat Pay bill", bill_date: date | None = None) -> Bill:
    """Parse a trade bill (ALL, SUCCESS or REFUND type) from its text lines, in one pass.

    Raises BillFormatError(line_no, reason) on anything that does not follow the format; a file
    that raises is never partly returned.
    """
    bill = BillBuilder(Channel.WECHAT, source, bill_date)
    it = iter(lines)
    line_no = 0
    header = ""
    for raw in it:
        line_no += 1
        header = _strip(raw)
        if header:
            break
    if not header:
        raise BillFormatError(source, max(line_no, 1), "the file is empty")
    summary_header = SUMMARY_HEADERS.get(header)
    if summary_header is None:
        raise BillFormatError(source, line_no, "the header is not a WeChat Pay trade bill header")
    names = header.split(",")
    width = len(names)
    col = {name: i for i, name in enumerate(names)}
    columns = _Columns(
        width=width,
        txid=col["微信订单号"],
        otn=col["商户订单号"],
        state=col["交易状态"],
        settle=col["应结订单金额"],
        total=col["订单金额"],
        fee=col["手续费"],
        rno=col.get("商户退款单号"),
        refund=col.get("退款金额"),
        coupon_refund=col.get("充值券退款金额"),
        req_refund=col.get("申请退款金额"),
        rstatus=col.get("退款状态"),
    )
    sums = dict.fromkeys(SUMMED_COLUMNS, 0)
    # Detail lines are taken CHUNK at a time and parsed column by column: one C-level split per
    # line, then whole columns validated by one regex and converted by map(int, ...).
    tail: list[str] = []
    while True:
        chunk = list(islice(it, CHUNK))
        if not chunk:
            raise BillFormatError(source, line_no + 1, "the file ends before its summary lines (truncated?)")
        starts = list(map(str.startswith, chunk, repeat("`")))
        stop = starts.index(False) if False in starts else len(chunk)
        if stop:
            _parse_rows(bill, chunk[:stop], line_no + 1, columns, sums, source)
            line_no += stop
        if stop < len(chunk):
            tail = chunk[stop:]
            break
    rest = chain(tail, it)
    line_no += 1
    line = next(rest).rstrip("\r\n")
    if line.strip() != summary_header:
        raise BillFormatError(source, line_no, "expected the summary header line (总交易单数,…)")
    data = ""
    for raw in rest:
        line_no += 1
        data = raw.rstrip("\r\n")
        break
    else:
        raise BillFormatError(source, line_no + 1, "the file ends before its summary data line (truncated?)")
    if not data.startswith("`"):
        raise BillFormatError(source, line_no, "the summary data line must start with a backtick")
    values = data[1:].split(",`")
    summary_names = summary_header.split(",")
    if len(values) != len(summary_names):
        raise BillFormatError(source, line_no, f"{len(values)} summary fields, expected {len(summary_names)}")
    for name, value in zip(summary_names, values, strict=True):
        column = SUMMARY_OF[name]
        try:
            if column is None:
                if not (value.isascii() and value.isdigit()):
                    raise AmountError(f"{value!r} is not a count")
                stated, actual, shown = int(value), len(bill), str(len(bill))
            elif column == "手续费":
                stated, actual = millifen(value), sums[column]
                shown = format_millifen(actual)
            else:
                stated, actual = fen(value), sums[column]
                shown = fen_to_yuan(actual)
        except AmountError as exc:
            raise BillFormatError(source, line_no, f"{name}: {exc.message}") from None
        if stated != actual:
            raise BillFormatError(source, line_no, f"{name} says {value} but the rows add up to {shown}")
        bill.summary[name] = stated
    for raw in rest:
        line_no += 1
        if raw.strip():
            raise BillFormatError(source, line_no, "unexpected text after the summary data line")
    return bill.finish()


CHUNK = 4096
_AMOUNTS = re.compile(r"(?:-?\d+\.\d\d\n)*-?\d+\.\d\d", re.ASCII)
_FEES = re.compile(r"(?:-?\d+\.\d{5}\n)*-?\d+\.\d{5}", re.ASCII)
# The first field of a raw detail line still carries the line's leading backtick.
_TIMES = re.compile(
    r"(?:`\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d\n)*`\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d", re.ASCII
)
_DATE_PART = re.compile(r"`\d{4}-\d\d-\d\d ", re.ASCII)


@dataclass(frozen=True, slots=True)
class _Columns:
    width: int
    txid: int
    otn: int
    state: int
    settle: int
    total: int
    fee: int
    rno: int | None
    refund: int | None
    coupon_refund: int | None
    req_refund: int | None
    rstatus: int | None


def _column(
    values: tuple[str, ...], pattern: re.Pattern[str], one: Callable[[str], int], first: int, name: str, source: str
) -> list[int]:
    """A whole column of amounts to ints: one regex over the joined column, then map(int).

    The fast path takes the bill's own forms (two decimals; fees five); anything else goes value
    by value through the strict parser, which names the line of the first bad value.
    """
    if values[0] == "0.00" and values.count("0.00") == len(values):
        return [0] * len(values)  # e.g. the refund columns of a run of payment rows
    joined = "\n".join(values)
    if pattern.fullmatch(joined):
        return list(map(int, joined.replace(".", "").split("\n")))
    out: list[int] = []
    for k, value in enumerate(values):
        try:
            out.append(one(value))
        except AmountError as exc:
            raise BillFormatError(source, first + k, f"{name}: {exc.message}") from None
    return out


def _times(values: tuple[str, ...], first: int, source: str) -> list[int]:
    joined = "\n".join(values)
    if _TIMES.fullmatch(joined):
        hms = list(map(int, _DATE_PART.sub("", joined).replace(":", "").split("\n")))
        if max(hms) <= 235959:
            return hms
    out: list[int] = []
    for k, value in enumerate(values):
        try:
            out.append(hms_of(value[1:]))
        except ValueError:
            raise BillFormatError(source, first + k, f"交易时间 {value[1:]!r} is not yyyy-MM-dd HH:mm:ss") from None
    return out


def _parse_rows(
    bill: BillBuilder, lines: list[str], first: int, c: _Columns, sums: dict[str, int], source: str
) -> None:
    """Parse consecutive detail lines (``first`` = line number of the first) into ``bill``."""
    # Split the raw lines: the first field keeps the leading backtick and the last (费率备注, never
    # read) the line break, which saves two string copies per line.
    rows = list(map(str.split, lines, repeat(",`")))
    if set(map(len, rows)) != {c.width}:
        k = next(k for k, row in enumerate(rows) if len(row) != c.width)
        raise BillFormatError(source, first + k, f"{len(rows[k])} fields, expected {c.width}")
    n = len(rows)
    cols = list(zip(*rows, strict=True))
    settle = _column(cols[c.settle], _AMOUNTS, fen, first, "应结订单金额", source)
    total = _column(cols[c.total], _AMOUNTS, fen, first, "订单金额", source)
    fee = _column(cols[c.fee], _FEES, millifen, first, "手续费", source)
    zeros = [0] * n
    refund = _column(cols[c.refund], _AMOUNTS, fen, first, "退款金额", source) if c.refund is not None else zeros
    coupon = (
        _column(cols[c.coupon_refund], _AMOUNTS, fen, first, "充值券退款金额", source)
        if c.coupon_refund is not None
        else zeros
    )
    req = (
        _column(cols[c.req_refund], _AMOUNTS, fen, first, "申请退款金额", source) if c.req_refund is not None else zeros
    )
    at_hms = _times(cols[0], first, source)
    otns = cols[c.otn]
    if "" in otns:
        raise BillFormatError(source, first + otns.index(""), "商户订单号 (out_trade_no) is empty")
    states = cols[c.state]
    status: list[str | None] = list(map(TRADE_STATUS.get, states))
    kinds = bytearray(n)  # PAYMENT everywhere, refund rows patched below
    amount, settled = list(total), list(settle)
    refund_nos = [""] * n
    if c.rno is not None and c.rstatus is not None and cols[c.rno].count("0") + cols[c.rno].count("") != n:
        rnos = cols[c.rno]  # some refund rows (counted in C; a run of payments skips the scan)
        for k in [k for k, r in enumerate(rnos) if r not in EMPTY_REFUND_NO]:
            refund_status = REFUND_STATUS.get(cols[c.rstatus][k])
            if refund_status is None:
                raise BillFormatError(source, first + k, f"unknown refund status {cols[c.rstatus][k]!r}")
            # A reversal (撤销, 交易状态 REVOKED) is shaped like a refund: the money went back.
            status[k] = REVOKED if states[k] == TRADE_REVOKED else refund_status
            kinds[k] = REFUND
            refund_nos[k] = rnos[k]
            amount[k] = req[k] or refund[k]
            settled[k] = refund[k]
    if None in status:
        k = status.index(None)
        raise BillFormatError(source, first + k, f"unknown trade state {states[k]!r}")
    txids = cols[c.txid]
    if max(map(len, txids)) <= TXID_WIDTH and all(map(str.isascii, txids)):
        bill.txids.extend(txids)
    else:
        bill.txids.extend(map(txid_kept, txids))
    for name, values in (
        ("应结订单金额", settle), ("订单金额", total), ("手续费", fee), ("退款金额", refund),
        ("充值券退款金额", coupon), ("申请退款金额", req),
    ):  # fmt: skip
        sums[name] += sum(values)
    # array.fromlist converts a list in one C loop (extend() goes through the iterator protocol).
    bill.line_no.fromlist(list(range(first, first + n)))
    bill.kind += kinds
    bill.out_trade_no.extend(otns)
    bill.out_refund_no.extend(refund_nos)
    bill.status.extend(status)  # type: ignore[arg-type]
    bill.amount_fen.fromlist(amount)
    bill.settle_fen.fromlist(settled)
    bill.fee_millifen.fromlist(fee)
    bill.line_hash.fromlist(list(map(hash, lines)))
    bill.at_hms.fromlist(at_hms)


def parse_wechat_bill_bytes(data: bytes, *, source: str = "WeChat Pay bill", bill_date: date | None = None) -> Bill:
    """Parse the uncompressed bill bytes (UTF-8, as the provider client returns them)."""
    fast = parse_fast(io.BytesIO(data).read, source=source, bill_date=bill_date)
    if fast is not None:
        return fast
    try:
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
        return parse_wechat_bill(text, source=source, bill_date=bill_date)
    except UnicodeDecodeError:
        raise BillFormatError(source, _bad_utf8_line(data), "not valid UTF-8 text") from None


def parse_wechat_bill_file(path: Path, *, source: str | None = None, bill_date: date | None = None) -> Bill:
    """Parse an archived bill file (plain or ``.gz``) without reading it all into memory."""
    name = source or f"WeChat Pay bill {path.name}"
    # ISA-L's gzip reader: the same format, about three times faster to inflate than zlib's
    # (a big day's bill is ~270 MB uncompressed: zlib alone took a fifth of the time budget).
    opener = igzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw:
        fast = parse_fast(raw.read, source=name, bill_date=bill_date)
    if fast is not None:
        return fast
    try:
        with opener(path, "rb") as raw:
            return parse_wechat_bill(chain.from_iterable(_line_blocks(raw.read)), source=name, bill_date=bill_date)
    except UnicodeDecodeError:
        with opener(path, "rb") as raw:
            data = raw.read()
        raise BillFormatError(name, _bad_utf8_line(data), "not valid UTF-8 text") from None


_BLOCK = 1 << 20


def _line_blocks(read: Callable[[int], bytes]) -> Iterator[list[str]]:
    """The text lines of a UTF-8 (BOM optional) byte stream, a block of lines at a time.

    Lines are cut exactly as ``open(..., newline="")`` cuts them (``\n``, ``\r\n`` or a lone ``\r``,
    kept at the end of the line) but a megabyte at a time in C, not line by line.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    rest = ""
    while block := read(_BLOCK):
        text = rest + decoder.decode(block)
        cut = text.rfind("\n") + 1  # a "\r" just before the cut stays with its "\n"
        rest = text[cut:]
        if cut:
            yield io.StringIO(text[:cut], newline="").readlines()
    rest += decoder.decode(b"", final=True)
    if rest:
        yield io.StringIO(rest, newline="").readlines()


def _bad_utf8_line(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data[: exc.start].count(b"\n") + 1
    return 1
