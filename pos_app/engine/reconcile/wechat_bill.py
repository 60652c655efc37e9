"""Parser of the WeChat Pay trade bill (交易账单, specs/wechatpay-v3.md §5), streamed line by line.

Layout: a header line; one detail line per record where every field starts with a backtick
(an empty field is a lone backtick); a summary header line (no backticks); one summary data line.
The file's own summary is checked against the sum of its rows; any mismatch, a wrong column count,
a bad amount or a missing summary rejects the whole file with the line number.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from pos_app.domain.errors import AmountError
from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.bill import (
    PAID,
    PAYMENT,
    REFUND,
    REFUND_FAILED,
    REFUND_PROCESSING,
    REFUND_SUCCESS,
    REVOKED,
    Bill,
    fen,
    format_millifen,
    millifen,
    seconds_of_day,
    txid_bytes,
)
from pos_app.engine.reconcile.errors import BillFormatError

_ALL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
_SUCCESS = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注"
)
_REFUND = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
_SUMMARY_ALL = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
_SUMMARY_SUCCESS = "总交易单数,应结订单总金额,手续费总金额,订单总金额"

#: Summary column -> the detail column it totals (None: the row count).
_SUMMARY_OF = {
    "总交易单数": None,
    "应结订单总金额": "应结订单金额",
    "退款总金额": "退款金额",
    "充值券退款总金额": "充值券退款金额",
    "手续费总金额": "手续费",
    "订单总金额": "订单金额",
    "申请退款总金额": "申请退款金额",
}
_HEADERS = {_ALL: _SUMMARY_ALL, _SUCCESS: _SUMMARY_SUCCESS, _REFUND: _SUMMARY_ALL}
_REFUND_STATUS = {
    "SUCCESS": REFUND_SUCCESS,
    "PROCESSING": REFUND_PROCESSING,
    "CLOSED": REFUND_FAILED,
    "ABNORMAL": REFUND_FAILED,
    "FAIL": REFUND_FAILED,
    "FAILED": REFUND_FAILED,
    "CHANGE": REFUND_FAILED,
}
_TRADE_STATUS = {"SUCCESS": PAID, "REFUND": PAID, "REVOKED": REVOKED}
_EMPTY_REFUND_NO = ("", "0")


def _strip(line: str) -> str:
    return line.rstrip("\r\n").lstrip("\ufeff")


def parse_wechat_bill(lines: Iterable[str], *, source: str = "WeChat Pay bill", bill_date: date | None = None) -> Bill:
    """Parse a trade bill (ALL, SUCCESS or REFUND type) from its text lines, in one pass.

    Raises BillFormatError(line_no, reason) on anything that does not follow the format; a file
    that raises is never partly returned.
    """
    bill = Bill(Channel.WECHAT, source, bill_date)
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
    summary_header = _HEADERS.get(header)
    if summary_header is None:
        raise BillFormatError(source, line_no, "the header is not a WeChat Pay trade bill header")
    names = header.split(",")
    width = len(names)
    col = {name: i for i, name in enumerate(names)}
    c_txid, c_otn, c_state = col["微信订单号"], col["商户订单号"], col["交易状态"]
    c_settle, c_total, c_fee = col["应结订单金额"], col["订单金额"], col["手续费"]
    has_refunds = "商户退款单号" in col
    c_rno = col.get("商户退款单号", 0)
    c_refund = col.get("退款金额", 0)
    c_coupon_refund = col.get("充值券退款金额", 0)
    c_req_refund = col.get("申请退款金额", 0)
    c_rstatus = col.get("退款状态", 0)

    s_settle = s_refund = s_coupon = s_fee = s_total = s_req = 0
    # Bound appends: this loop runs once per bill row (a million on a big day).
    add_line, add_kind, add_otn = bill.line_no.append, bill.kind.append, bill.out_trade_no.append
    add_rno, add_status, add_amount = bill.out_refund_no.append, bill.status.append, bill.amount_fen.append
    add_settle, add_fee, add_hash, add_at = (
        bill.settle_fen.append, bill.fee_millifen.append, bill.line_hash.append, bill.at_s.append,
    )  # fmt: skip
    txids = bill.txids
    line = ""
    for raw in it:
        line_no += 1
        line = raw.rstrip("\r\n")
        if not line.startswith("`"):
            break
        fields = line[1:].split(",`")
        if len(fields) != width:
            raise BillFormatError(source, line_no, f"{len(fields)} fields, expected {width}")
        try:
            settle = fen(fields[c_settle])
            total = fen(fields[c_total])
            fee = millifen(fields[c_fee])
            if has_refunds:
                refund = fen(fields[c_refund])
                coupon_refund = fen(fields[c_coupon_refund])
                req_refund = fen(fields[c_req_refund])
            else:
                refund = coupon_refund = req_refund = 0
            at_s = seconds_of_day(fields[0])
        except AmountError as exc:
            raise BillFormatError(source, line_no, exc.message) from None
        except ValueError:
            raise BillFormatError(source, line_no, f"交易时间 {fields[0]!r} is not yyyy-MM-dd HH:mm:ss") from None
        s_settle += settle
        s_total += total
        s_fee += fee
        s_refund += refund
        s_coupon += coupon_refund
        s_req += req_refund
        out_trade_no = fields[c_otn]
        if not out_trade_no:
            raise BillFormatError(source, line_no, "商户订单号 (out_trade_no) is empty")
        out_refund_no = fields[c_rno] if has_refunds else ""
        if out_refund_no not in _EMPTY_REFUND_NO:
            status = _REFUND_STATUS.get(fields[c_rstatus], "")
            if not status:
                raise BillFormatError(source, line_no, f"unknown refund status {fields[c_rstatus]!r}")
            if fields[c_state] == "REVOKED":
                status = REVOKED  # a reversal (撤销) shaped like a refund: the money went back
            add_kind(REFUND)
            add_rno(out_refund_no)
            add_amount(req_refund or refund)
            add_settle(refund)
        else:
            status = _TRADE_STATUS.get(fields[c_state], "")
            if not status:
                raise BillFormatError(source, line_no, f"unknown trade state {fields[c_state]!r}")
            add_kind(PAYMENT)
            add_rno("")
            add_amount(total)
            add_settle(settle)
        add_line(line_no)
        add_otn(out_trade_no)
        add_status(status)
        add_fee(fee)
        add_hash(hash(line))
        add_at(at_s)
        txids += txid_bytes(fields[c_txid])
    else:
        raise BillFormatError(source, line_no + 1, "the file ends before its summary lines (truncated?)")

    sums = {
        "应结订单金额": s_settle,
        "退款金额": s_refund,
        "充值券退款金额": s_coupon,
        "手续费": s_fee,
        "订单金额": s_total,
        "申请退款金额": s_req,
    }
    if line.strip() != summary_header:
        raise BillFormatError(source, line_no, "expected the summary header line (总交易单数,…)")
    data = ""
    for raw in it:
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
        column = _SUMMARY_OF[name]
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
                shown = _yuan(actual)
        except AmountError as exc:
            raise BillFormatError(source, line_no, f"{name}: {exc.message}") from None
        if stated != actual:
            raise BillFormatError(source, line_no, f"{name} says {value} but the rows add up to {shown}")
        bill.summary[name] = stated
    for raw in it:
        line_no += 1
        if raw.strip():
            raise BillFormatError(source, line_no, "unexpected text after the summary data line")
    return bill


def _yuan(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 100)
    return f"{sign}{whole}.{part:02d}"


def parse_wechat_bill_bytes(data: bytes, *, source: str = "WeChat Pay bill", bill_date: date | None = None) -> Bill:
    """Parse the uncompressed bill bytes (UTF-8, as the provider client returns them)."""
    try:
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
        return parse_wechat_bill(text, source=source, bill_date=bill_date)
    except UnicodeDecodeError:
        raise BillFormatError(source, _bad_utf8_line(data), "not valid UTF-8 text") from None


def parse_wechat_bill_file(path: Path, *, source: str | None = None, bill_date: date | None = None) -> Bill:
    """Parse an archived bill file (plain or ``.gz``) without reading it all into memory."""
    name = source or f"WeChat Pay bill {path.name}"
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
            return parse_wechat_bill(text, source=name, bill_date=bill_date)
    except UnicodeDecodeError:
        with opener(path, "rb") as raw:
            data = raw.read()
        raise BillFormatError(name, _bad_utf8_line(data), "not valid UTF-8 text") from None


def _bad_utf8_line(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data[: exc.start].count(b"\n") + 1
    return 1
