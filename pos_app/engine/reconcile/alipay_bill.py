"""Parser of the Alipay trade bill (业务明细, specs/alipay-f2f.md §5): a ZIP of GBK CSV files.

The detail file (``…_业务明细.csv``) has ``#`` comment lines before and after a 25-column table, text
columns end with a TAB before the comma, and the footer states the day's totals
(``#交易合计：6笔，商家实收共0.06元…`` / ``#退款合计：…``). Those totals, and the summary file's
``合计`` row when the ZIP carries one, are checked against the rows. Any mismatch, a wrong column
count, a bad amount or a truncated file rejects the whole bill with the line number.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import IO

from pos_app.domain.errors import AmountError
from pos_app.domain.money import fen_to_yuan
from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.bill import PAID, PAYMENT, REFUND, REFUND_SUCCESS, Bill, BillBuilder, gc_paused
from pos_app.engine.reconcile.bill_values import fen, hms_of
from pos_app.engine.reconcile.errors import BillFormatError

ENCODING = "gb18030"  # a superset of GBK: decodes every GBK file the same way
DETAIL_SUFFIX = "业务明细.csv"
SUMMARY_SUFFIX = "业务明细(汇总).csv"
HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)
WIDTH = 25
SUMMARY_HEADER = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,"
    "卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
_TRADE_TOTAL = re.compile(r"#交易合计：(\d+)笔，商家实收共(-?[\d.]+)元，商家优惠共(-?[\d.]+)元")
_REFUND_TOTAL = re.compile(r"#退款合计：(\d+)笔，商家实收退款共(-?[\d.]+)元，商家优惠退款共(-?[\d.]+)元")
# Column positions in the 25-column header.
_C_TRADE_NO, _C_OTN, _C_TYPE, _C_FINISHED, _C_TOTAL, _C_RECEIVED = 0, 1, 2, 5, 11, 12
_C_MERCHANT_DISCOUNT, _C_REQUEST_NO, _C_FEE = 16, 21, 22


def _fields(line: str) -> list[str]:
    row = next(csv.reader([line])) if '"' in line else line.split(",")
    return row


def _clean(value: str) -> str:
    return value.strip("\t ")


@gc_paused
def parse_alipay_detail(lines: Iterable[str], *, source: str = "Alipay bill", bill_date: date | None = None) -> Bill:
    """Parse the 业务明细 CSV text (already decoded) in one pass."""
    bill = BillBuilder(Channel.ALIPAY, source, bill_date)
    it: Iterator[str] = iter(lines)
    line_no = 0
    first = ""
    for raw in it:
        line_no += 1
        first = raw.rstrip("\r\n").lstrip("\ufeff")
        break
    if first.strip() != "#支付宝业务明细查询":
        raise BillFormatError(source, max(line_no, 1), "not an Alipay 业务明细 file (first line)")
    for raw in it:
        line_no += 1
        line = raw.rstrip("\r\n")
        if not line.startswith("#"):
            if _clean_header(line) != HEADER:
                raise BillFormatError(source, line_no, "the column header is not the 25-column 业务明细 header")
            break
    else:
        raise BillFormatError(source, line_no + 1, "the file ends before the column header (truncated?)")

    trades = refunds = 0
    trade_received = trade_discount = refund_received = refund_discount = 0
    append = bill.append
    footer = ""
    for raw in it:
        line_no += 1
        line = raw.rstrip("\r\n")
        if line.startswith("#"):
            footer = line
            break
        if not line.strip():
            raise BillFormatError(source, line_no, "empty line inside the table")
        fields = _fields(line)
        if len(fields) != WIDTH:
            raise BillFormatError(source, line_no, f"{len(fields)} fields, expected {WIDTH}")
        kind_text = _clean(fields[_C_TYPE])
        out_trade_no = _clean(fields[_C_OTN])
        if not out_trade_no:
            raise BillFormatError(source, line_no, "商户订单号 (out_trade_no) is empty")
        try:
            total = fen(_clean(fields[_C_TOTAL]))
            received = fen(_clean(fields[_C_RECEIVED]))
            discount = fen(_clean(fields[_C_MERCHANT_DISCOUNT]))
            fee_fen = fen(_clean(fields[_C_FEE]) or "0.00")
            at_hms = hms_of(_clean(fields[_C_FINISHED]))
        except AmountError as exc:
            raise BillFormatError(source, line_no, exc.message) from None
        except ValueError:
            raise BillFormatError(
                source, line_no, f"完成时间 {fields[_C_FINISHED]!r} is not yyyy-MM-dd HH:mm:ss"
            ) from None
        if kind_text == "交易":
            trades += 1
            trade_received += received
            trade_discount += discount
            append(
                line_no=line_no,
                kind=PAYMENT,
                out_trade_no=out_trade_no,
                transaction_id=_clean(fields[_C_TRADE_NO]),
                out_refund_no="",
                status=PAID,
                amount_fen=total,
                settle_fen=received,
                fee_millifen=abs(fee_fen) * 1000,
                line_hash=hash(line),
                at_hms=at_hms,
            )
        elif kind_text == "退款":
            refunds += 1
            refund_received += received
            refund_discount += discount
            append(
                line_no=line_no,
                kind=REFUND,
                out_trade_no=out_trade_no,
                transaction_id=_clean(fields[_C_TRADE_NO]),
                # A refund made without out_request_no is known by the out_trade_no (spec §3.7).
                out_refund_no=_clean(fields[_C_REQUEST_NO]) or out_trade_no,
                status=REFUND_SUCCESS,
                amount_fen=abs(received),
                settle_fen=abs(received),
                fee_millifen=-abs(fee_fen) * 1000,
                line_hash=hash(line),
                at_hms=at_hms,
            )
        else:
            raise BillFormatError(source, line_no, f"unknown 业务类型 {kind_text!r}")
    else:
        raise BillFormatError(source, line_no + 1, "the file ends inside the table (truncated?)")
    if "业务明细列表结束" not in footer:
        raise BillFormatError(source, line_no, "expected the end-of-table line (业务明细列表结束)")

    seen_trade = seen_refund = False
    for raw in it:
        line_no += 1
        line = raw.rstrip("\r\n").strip()
        if not line:
            continue
        if match := _TRADE_TOTAL.fullmatch(line):
            seen_trade = True
            _check(source, line_no, "交易合计 笔数", int(match.group(1)), trades, str(trades))
            _check_amount(source, line_no, "交易合计 商家实收", match.group(2), trade_received)
            _check_amount(source, line_no, "交易合计 商家优惠", match.group(3), trade_discount)
        elif match := _REFUND_TOTAL.fullmatch(line):
            seen_refund = True
            _check(source, line_no, "退款合计 笔数", int(match.group(1)), refunds, str(refunds))
            _check_amount(source, line_no, "退款合计 商家实收退款", match.group(2), refund_received)
            _check_amount(source, line_no, "退款合计 商家优惠退款", match.group(3), refund_discount)
        elif not line.startswith("#"):
            raise BillFormatError(source, line_no, "unexpected text after the table")
    if not (seen_trade and seen_refund):
        missing = "#交易合计" if not seen_trade else "#退款合计"
        raise BillFormatError(source, line_no + 1, f"the file ends before its {missing} line (truncated?)")
    bill.summary.update(
        {
            "交易笔数": trades,
            "退款笔数": refunds,
            "交易商家实收": trade_received,
            "退款商家实收": refund_received,
        }
    )
    return bill.finish()


def _clean_header(line: str) -> str:
    return ",".join(_clean(part) for part in line.lstrip("\ufeff").split(","))


def _check(source: str, line_no: int, what: str, stated: int, actual: int, shown: str) -> None:
    if stated != actual:
        raise BillFormatError(source, line_no, f"{what} says {stated} but the rows add up to {shown}")


def _check_amount(source: str, line_no: int, what: str, text: str, actual: int) -> None:
    try:
        stated = fen(text)
    except AmountError as exc:
        raise BillFormatError(source, line_no, f"{what}: {exc.message}") from None
    if stated != actual:
        raise BillFormatError(source, line_no, f"{what} says {text} but the rows add up to {fen_to_yuan(actual)}")


def check_alipay_summary(lines: Iterable[str], bill: Bill, *, source: str) -> None:
    """Check the 汇总 file's ``合计`` row (order counts, 商家实收) against the parsed detail."""
    line_no = 0
    in_table = False
    for raw in lines:
        line_no += 1
        line = raw.rstrip("\r\n")
        if not in_table:
            if not line.startswith("#") and line.strip():
                if _clean_header(line) != SUMMARY_HEADER:
                    raise BillFormatError(source, line_no, "the column header is not the 汇总 header")
                in_table = True
            continue
        fields = [_clean(f) for f in _fields(line)]
        if fields and fields[0] == "合计":
            if len(fields) != 12:
                raise BillFormatError(source, line_no, f"{len(fields)} fields, expected 12")
            try:
                trades, refunds = int(fields[2]), int(fields[3])
            except ValueError:
                raise BillFormatError(source, line_no, "the order counts are not numbers") from None
            _check(source, line_no, "交易订单总笔数", trades, bill.summary["交易笔数"], str(bill.summary["交易笔数"]))
            _check(source, line_no, "退款订单总笔数", refunds, bill.summary["退款笔数"], str(bill.summary["退款笔数"]))
            net = bill.summary["交易商家实收"] + bill.summary["退款商家实收"]
            _check_amount(source, line_no, "合计 商家实收", fields[5], net)
            return
    raise BillFormatError(source, line_no + 1, "the 汇总 file has no 合计 row (truncated?)")


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Entry names are GBK bytes without the UTF-8 flag: zipfile decoded them as cp437."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode(ENCODING)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def parse_alipay_bill_zip(
    data: bytes | Path | IO[bytes], *, source: str = "Alipay bill", bill_date: date | None = None
) -> Bill:
    """Parse the downloaded ZIP (bytes, a path or a binary file), streaming the detail CSV."""
    archive_input: Path | IO[bytes] = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        archive = zipfile.ZipFile(archive_input)
    except zipfile.BadZipFile:
        raise BillFormatError(source, 1, "not a ZIP file") from None
    with archive:
        detail = summary = None
        for info in archive.infolist():
            name = _entry_name(info)
            if name.endswith(SUMMARY_SUFFIX) or name.endswith("业务明细（汇总）.csv"):
                summary = (info, name)
            elif name.endswith(DETAIL_SUFFIX):
                detail = (info, name)
        if detail is None:
            raise BillFormatError(source, 1, "the ZIP holds no 业务明细.csv file")
        detail_source = f"{source} ({detail[1]})"
        bill = _parse_member(archive, detail[0], detail_source, bill_date)
        if summary is not None:
            summary_source = f"{source} ({summary[1]})"
            try:
                with archive.open(summary[0]) as member:
                    text = io.TextIOWrapper(member, encoding=ENCODING, newline="")
                    check_alipay_summary(text, bill, source=summary_source)
            except UnicodeDecodeError:
                raise BillFormatError(summary_source, 1, "not valid GBK text") from None
        return bill


def _parse_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, bill_date: date | None) -> Bill:
    try:
        with archive.open(info) as member:
            text = io.TextIOWrapper(member, encoding=ENCODING, newline="")
            return parse_alipay_detail(text, source=source, bill_date=bill_date)
    except UnicodeDecodeError:
        raw = archive.read(info)
        try:
            raw.decode(ENCODING)
            line = 1
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
        raise BillFormatError(source, line, "not valid GBK text") from None
    except (zipfile.BadZipFile, EOFError) as exc:
        raise BillFormatError(source, 1, f"the ZIP entry is damaged ({exc.__class__.__name__})") from None
