"""The pyarrow fast path of the WeChat Pay bill gives the pure-Python parser's bill, or defers to it."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from pos_app.engine.reconcile import fast_wechat
from pos_app.engine.reconcile.bill import ARROW_TYPES, Bill
from pos_app.engine.reconcile.errors import BillFormatError
from pos_app.engine.reconcile.wechat_bill import parse_wechat_bill, parse_wechat_bill_bytes, parse_wechat_bill_file
from tests.unit.reconcile.reconcile_kit import FIXTURES, wechat_bill, wechat_row


def _slow(data: bytes) -> Bill:
    return parse_wechat_bill(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))


def _fast(data: bytes) -> Bill | None:
    return fast_wechat.parse_fast(io.BytesIO(data).read, source="WeChat Pay bill", bill_date=None)


def _same(a: Bill, b: Bill) -> None:
    assert list(a.line_no) == list(b.line_no)
    assert list(a.kind) == list(b.kind)
    assert a.out_trade_no == b.out_trade_no
    assert list(a.txids) == list(b.txids)
    for name in ARROW_TYPES:  # the matcher's kernels rely on the column types, whichever parser
        assert getattr(a, name).arrow.type == getattr(b, name).arrow.type == ARROW_TYPES[name]
    assert a.out_refund_no == b.out_refund_no
    assert a.status == b.status
    assert list(a.amount_fen) == list(b.amount_fen)
    assert list(a.settle_fen) == list(b.settle_fen)
    assert list(a.fee_millifen) == list(b.fee_millifen)
    assert list(a.at_hms) == list(b.at_hms)
    assert a.summary == b.summary
    assert (a.channel, a.source, a.bill_date) == (b.channel, b.source, b.bill_date)
    # line_hash hashes bytes on the fast path, text on the slow one: the same lines are equal in both.
    n = len(a)
    ha, hb = a.line_hash.to_pylist(), b.line_hash.to_pylist()
    pairs_a = {(i, j) for i in range(n) for j in range(i + 1, n) if ha[i] == ha[j]}
    pairs_b = {(i, j) for i in range(n) for j in range(i + 1, n) if hb[i] == hb[j]}
    assert pairs_a == pairs_b


def _generated(n: int) -> str:
    rows = []
    for i in range(n):
        at = f"2026-11-21 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        if i % 7 == 3:
            rows.append(wechat_row(f"P{i - 1:012d}", 0, out_refund_no=f"R{i:012d}", refund_fen=1 + i % 90, at=at))
        elif i % 11 == 5:
            rows.append(wechat_row(f"P{i:012d}", 100 + i, state="REVOKED", at=at))
        elif i % 13 == 6:
            rows.append(wechat_row(f"P{i - 1:012d}", 99 + i, at=at))  # a changed duplicate
        else:
            rows.append(wechat_row(f"P{i:012d}", 100 + i * 37 % 9000, at=at, txid=f"42{i:026d}"))
    rows.append(rows[n // 2])  # an identical repeated line
    return wechat_bill(rows)


@pytest.mark.parametrize("n", [0, 1, 3000])
def test_fast_path_gives_the_slow_parsers_bill(n: int, tmp_path: Path) -> None:
    data = _generated(n).encode() if n else wechat_bill([]).encode()
    fast = _fast(data)
    assert fast is not None  # the fast path took it
    _same(fast, _slow(data))
    archived = tmp_path / "bill.csv.gz"
    archived.write_bytes(gzip.compress(b"\xef\xbb\xbf" + data))
    _same(parse_wechat_bill_file(archived, source="WeChat Pay bill"), _slow(data))


def test_fast_path_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_wechat, "_BLOCK", 4096)
    data = _generated(2000).encode()
    fast = _fast(data)
    assert fast is not None and len(fast) == 2001 and fast.line_no[-1] == 2002
    _same(fast, _slow(data))


def test_fixtures_give_the_same_bill_whichever_path() -> None:
    data = (FIXTURES / "wechat_all_ok.csv").read_bytes()
    # A comma inside a field (商品名称 "可颂, 黄油"): fields are split on ",`" on both paths.
    fast = _fast(data)
    assert fast is not None and "可颂, 黄油".encode() in data
    _same(fast, _slow(data))
    plain = data.replace("可颂, 黄油".encode(), "可颂 黄油".encode())
    fast = _fast(plain)
    assert fast is not None
    _same(fast, _slow(plain))


def test_commas_inside_fields_are_split_like_the_exact_parser() -> None:
    text = _generated(500)
    for changed in (
        text.replace(",`商品,", ",`商品,含逗号,", 1),
        text.replace(",`商品,", ",`,商品,,", 3),
        text.replace(",`MICROPAY,", ",`MICROPAY,X,", 1),
    ):
        data = changed.encode()
        fast = _fast(data)
        assert fast is not None
        _same(fast, _slow(data))


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (lambda s: s.replace("`MICROPAY,`SUCCESS,", "`MICROPAY,`SUCCESS,`X,", 1), 2, "28 fields"),
        (lambda s: s.replace("`2026-11-21 00:00:01", "`2026-11-21 25:00:01", 1), 3, "交易时间"),
        (lambda s: s.replace(",`1.00,", ",`1.0O,", 1), 2, "is not a yuan amount"),
        (lambda s: s.replace("`SUCCESS,`OTHERS", "`PENDING,`OTHERS", 1), 2, "unknown trade state"),
        (lambda s: s.replace("总交易单数", "总交易数", 1), 3003, "summary header"),
        (lambda s: s.replace("\r\n`3001,", "\r\n`3002,", 1), 3004, "总交易单数 says 3002"),
    ],
)
def test_malformed_bill_falls_back_and_names_the_line(change: object, line: int, reason: str) -> None:
    text = change(_generated(3000))  # type: ignore[operator]
    assert text != _generated(3000)
    data = text.encode()
    assert _fast(data) is None
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes(data)
    assert caught.value.line_no == line and reason in caught.value.reason


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.replace("`0.60%,", "`0.60%,\r", 1),  # a lone CR cuts the line in two
        lambda s: s.replace("\r\n`", "\r\r\n`", 1),  # a blank line among the rows
        lambda s: s.replace(",`商品,", ",商品,", 1),  # a field without its backtick
        # The fast path's separator inside a field, in a block whose separators it must rewrite.
        lambda s: s.replace(",`商品,", ",`商\x1f品,", 1).replace(",`商品,", ",`商品,含逗号,", 1),
    ],
)
def test_odd_line_breaks_and_fields_are_left_to_the_exact_parser(change: object) -> None:
    data = change(_generated(500)).encode()  # type: ignore[operator]
    assert _fast(data) is None
    try:
        expected: Bill | BillFormatError = _slow(data)
    except BillFormatError as exc:
        expected = exc
    try:
        got: Bill | BillFormatError = parse_wechat_bill_bytes(data)
    except BillFormatError as exc:
        got = exc
    if isinstance(expected, BillFormatError):
        assert isinstance(got, BillFormatError)
        assert (got.line_no, got.reason) == (expected.line_no, expected.reason)
    else:
        assert isinstance(got, Bill)
        _same(got, expected)


def test_a_unit_separator_inside_a_field_is_plain_text_when_no_field_holds_a_comma() -> None:
    data = _generated(500).replace(",`商品,", ",`商\x1f品,", 1).encode()
    fast = _fast(data)
    assert fast is not None
    _same(fast, _slow(data))


def test_bytes_that_are_not_utf8_in_a_column_never_read_are_still_refused() -> None:
    data = _generated(500).encode()
    broken = data.replace(",`商品,".encode(), b",`\xff\xfe,", 1)  # 商品名称: never read into the bill
    assert _fast(data) is not None and _fast(broken) is None
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes(broken)
    assert caught.value.line_no == 2 and "UTF-8" in caught.value.reason


def test_settlement_amounts_that_differ_from_the_order_amounts_are_read() -> None:
    line, _settle, refund, fee = wechat_row("P261121100000S00001T00100000001", 1230)
    voucher = (line.replace("`12.30,`0.00,", "`10.30,`2.00,", 1), 1030, refund, fee)  # 2.00 paid by a voucher
    text = wechat_bill([voucher, wechat_row("P261121100000S00001T00100000002", 800)])
    head, _, tail = text.rpartition(",`18.30,")  # the kit totals 订单总金额 from the settled amounts
    data = f"{head},`20.30,{tail}".encode()
    fast = _fast(data)
    assert fast is not None and list(fast.settle_fen) == [1030, 800] and list(fast.amount_fen) == [1230, 800]
    _same(fast, _slow(data))
