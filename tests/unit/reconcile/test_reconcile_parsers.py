"""Bill parsers against hand-written files in the exact provider formats (fixtures/)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.domain.errors import AmountError
from pos_app.domain.money import fen_to_yuan, yuan_to_fen
from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.alipay_bill import parse_alipay_bill_zip
from pos_app.engine.reconcile.bill import PAID, PAYMENT, REFUND, REVOKED
from pos_app.engine.reconcile.bill_values import fen, format_millifen, millifen
from pos_app.engine.reconcile.errors import BillFormatError
from pos_app.engine.reconcile.wechat_bill import parse_wechat_bill_bytes, parse_wechat_bill_file
from tests.unit.reconcile.reconcile_kit import FIXTURES, alipay_zip, fixture_text


def test_wechat_all_bill_parses_every_row_with_exact_fen() -> None:
    bill = parse_wechat_bill_file(FIXTURES / "wechat_all_ok.csv")
    assert bill.channel is Channel.WECHAT
    assert len(bill) == 5
    assert list(bill.kind) == [PAYMENT, PAYMENT, PAYMENT, REFUND, PAYMENT]
    assert bill.out_trade_no[0] == "P261121091500S00001T00100000001"
    assert bill.status == [PAID, PAID, PAID, "SUCCESS", REVOKED]
    assert list(bill.amount_fen) == [1230, 800, 2500, 500, 600]
    assert list(bill.fee_millifen) == [7380, 4800, 15000, -3000, 0]
    assert bill.out_refund_no[3] == "R261121140500S00001T00100000003"
    assert bill.transaction_id(1) == "4200000001202611210000000002"
    assert list(bill.line_no) == [2, 3, 4, 5, 6]
    assert bill.at_hms[0] == 91502
    assert bill.summary["总交易单数"] == 5
    assert bill.summary["应结订单总金额"] == 5130
    assert bill.summary["手续费总金额"] == 24180
    # A comma inside a field (商品名称 "可颂, 黄油") does not shift the columns.
    assert bill.out_trade_no[3] == "P261121100240S00001T00100000002"


def test_wechat_bytes_and_gzip_file_give_the_same_bill(tmp_path: Path) -> None:
    raw = (FIXTURES / "wechat_all_ok.csv").read_bytes()
    archived = tmp_path / "bill.csv.gz"
    archived.write_bytes(gzip.compress(raw))
    a, b = parse_wechat_bill_bytes(raw), parse_wechat_bill_file(archived)
    assert a.out_trade_no == b.out_trade_no and list(a.amount_fen) == list(b.amount_fen)


@pytest.mark.parametrize(
    ("fixture", "line", "reason"),
    [
        ("wechat_bad_summary.csv", 8, "订单总金额 says 51.40 but the rows add up to 51.30"),
        ("wechat_wrong_columns.csv", 4, "26 fields, expected 27"),
        ("wechat_truncated.csv", 5, "ends before its summary lines"),
        ("wechat_bad_amount.csv", 3, "'8.0O' is not a yuan amount"),
    ],
)
def test_malformed_wechat_bill_is_rejected_with_its_line(fixture: str, line: int, reason: str) -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_file(FIXTURES / fixture)
    assert caught.value.line_no == line
    assert reason in caught.value.reason
    assert f"line {line}" in caught.value.message


def _wechat_lines() -> list[str]:
    return (FIXTURES / "wechat_all_ok.csv").read_text("utf-8").splitlines()


def test_wechat_summary_count_mismatch_and_trailing_text_are_rejected() -> None:
    lines = _wechat_lines()
    lines[-1] = lines[-1].replace("`5,", "`6,", 1)
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes("\n".join(lines).encode())
    assert caught.value.line_no == 8 and "总交易单数 says 6" in caught.value.reason
    lines = [*_wechat_lines(), "`junk"]
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes("\n".join(lines).encode())
    assert caught.value.line_no == 9


def test_wechat_bad_header_bad_encoding_and_unknown_state() -> None:
    lines = _wechat_lines()
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes("\n".join(["交易时间,别的", *lines[1:]]).encode())
    assert caught.value.line_no == 1
    data = "\n".join(lines).encode()
    broken = data.replace("午餐套餐".encode(), b"\xff\xfe", 1)
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes(broken)
    assert caught.value.line_no == 4 and "UTF-8" in caught.value.reason
    lines[1] = lines[1].replace("`SUCCESS,", "`WEIRD,")
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes("\n".join(lines).encode())
    assert caught.value.line_no == 2 and "WEIRD" in caught.value.reason


def test_wechat_empty_file_and_missing_summary_data() -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes(b"")
    assert caught.value.line_no == 1
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes("\n".join(_wechat_lines()[:-1]).encode())
    assert caught.value.line_no == 8 and "summary data" in caught.value.reason


def _alipay(detail: str | None = None, summary: str | None = "default") -> bytes:
    return alipay_zip(
        detail if detail is not None else fixture_text("alipay_detail_ok.csv"),
        fixture_text("alipay_summary_ok.csv") if summary == "default" else summary,
    )


def test_alipay_zip_with_gbk_names_parses_rows_and_checks_footer() -> None:
    bill = parse_alipay_bill_zip(_alipay())
    assert bill.channel is Channel.ALIPAY
    assert "业务明细.csv" in bill.source
    assert len(bill) == 4
    assert list(bill.kind) == [PAYMENT, PAYMENT, PAYMENT, REFUND]
    assert bill.out_trade_no[0] == "P261121091500S00001T00100000001"  # trailing TAB stripped
    assert bill.transaction_id(0) == "2026112122001400000000000001"
    assert list(bill.amount_fen) == [1230, 800, 2500, 500]
    assert list(bill.settle_fen) == [1230, 800, 2500, 500]
    assert list(bill.fee_millifen) == [7000, 5000, 15000, -3000]
    assert bill.out_refund_no[3] == "R261121140500S00001T00100000003"
    assert bill.summary == {"交易笔数": 3, "退款笔数": 1, "交易商家实收": 4530, "退款商家实收": -500}
    assert bill.at_hms[3] == 140512


def test_alipay_zip_without_summary_file_is_accepted() -> None:
    assert len(parse_alipay_bill_zip(_alipay(summary=None))) == 4


def _detail_lines() -> list[str]:
    return fixture_text("alipay_detail_ok.csv").splitlines()


def _reject(lines: list[str], summary: str | None = None) -> BillFormatError:
    with pytest.raises(BillFormatError) as caught:
        parse_alipay_bill_zip(_alipay("\r\n".join(lines) + "\r\n", summary=summary))
    return caught.value


def test_alipay_bad_footer_totals_are_rejected_with_the_footer_line() -> None:
    lines = _detail_lines()
    lines[10] = lines[10].replace("商家实收共45.30元", "商家实收共45.31元")
    error = _reject(lines)
    assert error.line_no == 11 and "交易合计 商家实收 says 45.31 but the rows add up to 45.30" in error.reason
    lines = _detail_lines()
    lines[11] = lines[11].replace("1笔", "2笔")
    error = _reject(lines)
    assert error.line_no == 12 and "退款合计 笔数 says 2" in error.reason


def test_alipay_wrong_columns_truncation_and_bad_amount_are_rejected_with_their_line() -> None:
    lines = _detail_lines()
    lines[6] = lines[6].rsplit(",", 1)[0]
    error = _reject(lines)
    assert (error.line_no, error.reason) == (7, "24 fields, expected 25")
    error = _reject(_detail_lines()[:8])
    assert error.line_no == 9 and "truncated" in error.reason
    error = _reject(_detail_lines()[:10])
    assert error.line_no == 11 and "#交易合计" in error.reason
    lines = _detail_lines()
    lines[7] = lines[7].replace(",25.00,25.00,", ",25.00,25.0x,")
    error = _reject(lines)
    assert error.line_no == 8 and "'25.0x' is not a yuan amount" in error.reason


def test_alipay_summary_file_total_row_is_checked() -> None:
    summary = fixture_text("alipay_summary_ok.csv").replace("合计,,3,1,", "合计,,4,1,")
    error = _reject(_detail_lines(), summary=summary)
    assert "汇总" in error.source and error.line_no == 7 and "交易订单总笔数 says 4" in error.reason


def test_alipay_not_a_zip_and_no_detail_entry() -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_alipay_bill_zip(b"PK not really")
    assert caught.value.line_no == 1
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.csv", b"x")
    with pytest.raises(BillFormatError, match="业务明细"):
        parse_alipay_bill_zip(buffer.getvalue())


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_bill_amounts_round_trip_exactly(value: int) -> None:
    assert fen(fen_to_yuan(value)) == value == yuan_to_fen(fen_to_yuan(value))


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_fees_round_trip_exactly(value: int) -> None:
    assert millifen(format_millifen(value)) == value


@pytest.mark.parametrize("text", ["1.2.3", "1_000.00", "１２.00", "12.345", "", "-", "1e3", "+1.00", " 1.00 x"])
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(AmountError):
        fen(text)


def test_big_wechat_bill_across_chunks_keeps_exact_line_numbers() -> None:
    from pos_app.engine.reconcile import wechat_bill as module
    from tests.unit.reconcile.reconcile_kit import wechat_bill, wechat_row

    n = module.CHUNK * 2 + 5
    rows = [wechat_row(f"P{i:012d}", 100 + i, at=f"2026-11-21 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}")
            for i in range(n)]  # fmt: skip
    text = wechat_bill(rows)
    bill = parse_wechat_bill_bytes(text.encode())
    assert len(bill) == n and bill.line_no[-1] == n + 1
    assert bill.amount_fen[module.CHUNK + 3] == 100 + module.CHUNK + 3
    assert bill.at_hms[3725] == 10205  # row 3725 → 01:02:05
    lines = text.split("\r\n")
    bad = module.CHUNK + 7  # a detail line in the second chunk
    lines[bad] = lines[bad].replace("`MICROPAY,`SUCCESS,", "`MICROPAY,`SUCCESS,`X,")
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes("\r\n".join(lines).encode())
    assert caught.value.line_no == bad + 1 and "28 fields" in caught.value.reason
    lines = text.split("\r\n")
    lines[bad] = lines[bad].replace("`2026-11-21 ", "`2026-11-21 25", 1)
    with pytest.raises(BillFormatError) as caught:
        parse_wechat_bill_bytes("\r\n".join(lines).encode())
    assert caught.value.line_no == bad + 1 and "交易时间" in caught.value.reason


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, 1 << 20])
def test_wechat_file_lines_are_cut_as_the_text_reader_cuts_them(piece: int) -> None:
    """The block reader of bill files gives the very lines (and line numbers) of open(newline="")."""
    import io
    from itertools import chain

    from pos_app.engine.reconcile.wechat_bill import _line_blocks

    text = "\ufeff头,a\r\n`商品,`1.00\r\n\r\nlone\rcr\n\n`多字节 字符\r\r\nlast line without break 末"
    data = text.encode("utf-8")
    expected = list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    stream = io.BytesIO(data)
    got = list(chain.from_iterable(_line_blocks(lambda _size: stream.read(piece))))
    assert got == expected
    assert got[0] == "头,a\r\n" and got[3] == "lone\r" and got[-1].endswith("末")


def test_wechat_gzip_file_cut_mid_character_is_rejected_with_its_line(tmp_path: Path) -> None:
    data = fixture_text("wechat_all_ok.csv").encode("utf-8")
    second_line = data.index(b"\n") + 1
    cut = next(k for k in range(second_line, len(data)) if data[k] >= 0x80) + 1  # inside a character
    path = tmp_path / "bill.csv.gz"
    path.write_bytes(gzip.compress(data[:cut]))
    with pytest.raises(BillFormatError) as err:
        parse_wechat_bill_file(path)
    assert err.value.line_no == 2
    assert "UTF-8" in err.value.reason
