"""The trade bill (交易账单) of one day, in the CSV layout of spec §5.

Rows, for the China-time day ``bill_date``:

- one payment row per order paid that day (交易状态 ``SUCCESS``, refund columns ``0``/``0.00``) —
  including codepay orders reversed later (they were paid);
- one refund row per refund *requested* that day (交易状态 ``REFUND``, 退款状态 its current status);
- one reversal row per paid codepay order reversed that day (交易状态 ``REVOKED``; the money goes
  back like a refund: 微信退款单号 = the reversal's id, 商户退款单号 = the out_trade_no, 退款类型
  ``ORIGINAL``, 退款状态 ``SUCCESS``).

Unpaid orders (closed, reversed before payment, failed) never appear. On refund and reversal rows
应结订单金额 and 订单金额 are ``0.00`` and 手续费 is negative. The fee is 0.60% rounded half up to the
fen, written with 5 decimals. 总交易单数 counts the detail rows; the other totals are column sums.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.money import fen_to_yuan
from pos_app.sandbox.clock import china_datetime_text
from pos_app.sandbox.wechat import store
from pos_app.sandbox.wechat.views import BANK_TYPE

HEADER_ALL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)
HEADER_SUCCESS = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注"
)
HEADER_REFUND = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY_ALL = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
SUMMARY_SUCCESS = "总交易单数,应结订单总金额,手续费总金额,订单总金额"
BILL_TYPES = ("ALL", "SUCCESS", "REFUND")
KNOWN_BILL_TYPES = ("ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND", "ALL_SPECIAL", "SUC_SPECIAL", "REF_SPECIAL")
FEE_RATE = "0.60%"
FEE_PER_MILLE_X10 = 6  # 0.6 % = 6 per 1000


def fee_fen(amount_fen: int) -> int:
    """0.60 % of ``amount_fen``, rounded half up to the fen."""
    return (amount_fen * FEE_PER_MILLE_X10 + 500) // 1000


def yuan5(fen: int) -> str:
    return fen_to_yuan(fen) + "000"


@dataclass(frozen=True, slots=True)
class BillRow:
    kind: str  # payment | refund | reversal
    time: float
    appid: str
    mchid: str
    device_id: str
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    trade_state: str
    bank_type: str
    settled_fen: int  # 应结订单金额
    refund_id: str
    out_refund_no: str
    refund_fen: int
    refund_type: str
    refund_status: str
    refund_requested: float | None
    refund_succeeded: float | None
    description: str
    attach: str
    fee_fen: int
    order_fen: int  # 订单金额
    requested_refund_fen: int  # 申请退款金额


def _day_bounds(bill_date: str) -> tuple[float, float]:
    day = date.fromisoformat(bill_date)
    start = datetime.combine(day, time(0), tzinfo=CHINA_TZ).timestamp()
    return start, start + 86400


def collect_rows(conn: sqlite3.Connection, bill_date: str, mchid: str) -> list[BillRow]:
    start, end = _day_bounds(bill_date)
    rows: list[BillRow] = []
    orders = store.paid_orders(conn, mchid)
    by_no = {o["out_trade_no"]: o for o in orders}

    def base(order: sqlite3.Row) -> dict[str, object]:
        return {
            "appid": order["appid"],
            "mchid": order["mchid"],
            "device_id": order["device_id"] or "",
            "transaction_id": order["transaction_id"],
            "out_trade_no": order["out_trade_no"],
            "openid": order["openid"] or "",
            "trade_type": order["trade_type"],
            "bank_type": order["bank_type"] or BANK_TYPE,
            "description": order["description"],
            "attach": order["attach"] or "",
        }

    for order in orders:
        if start <= order["success_time"] < end:
            rows.append(
                BillRow(
                    kind="payment",
                    time=order["success_time"],
                    trade_state="SUCCESS",
                    settled_fen=order["total"],
                    refund_id="0",
                    out_refund_no="0",
                    refund_fen=0,
                    refund_type="",
                    refund_status="",
                    refund_requested=None,
                    refund_succeeded=None,
                    fee_fen=fee_fen(order["total"]),
                    order_fen=order["total"],
                    requested_refund_fen=0,
                    **base(order),  # type: ignore[arg-type]
                )
            )
        if order["reversal_id"] and order["reversed_at"] is not None and start <= order["reversed_at"] < end:
            rows.append(
                BillRow(
                    kind="reversal",
                    time=order["reversed_at"],
                    trade_state="REVOKED",
                    settled_fen=0,
                    refund_id=order["reversal_id"],
                    out_refund_no=order["out_trade_no"],
                    refund_fen=order["total"],
                    refund_type="ORIGINAL",
                    refund_status="SUCCESS",
                    refund_requested=order["reversed_at"],
                    refund_succeeded=order["reversed_at"],
                    fee_fen=-fee_fen(order["total"]),
                    order_fen=0,
                    requested_refund_fen=order["total"],
                    **base(order),  # type: ignore[arg-type]
                )
            )
    for refund in store.refunds_requested_between(conn, start, end):
        refunded = by_no.get(refund["out_trade_no"])
        if refunded is None:
            continue
        rows.append(
            BillRow(
                kind="refund",
                time=refund["create_time"],
                trade_state="REFUND",
                settled_fen=0,
                refund_id=refund["refund_id"],
                out_refund_no=refund["out_refund_no"],
                refund_fen=refund["refund"],
                refund_type="ORIGINAL",
                refund_status=refund["status"],
                refund_requested=refund["create_time"],
                refund_succeeded=refund["success_time"],
                fee_fen=-fee_fen(refund["refund"]),
                order_fen=0,
                requested_refund_fen=refund["refund"],
                **base(refunded),  # type: ignore[arg-type]
            )
        )
    rows.sort(key=lambda r: (r.time, r.out_trade_no, r.kind))
    return rows


def _fields(row: BillRow, bill_type: str) -> list[str]:
    head = [
        china_datetime_text(row.time),
        row.appid,
        row.mchid,
        "0",
        row.device_id,
        row.transaction_id,
        row.out_trade_no,
        row.openid,
        row.trade_type,
        row.trade_state,
        row.bank_type,
        "CNY",
        fen_to_yuan(row.settled_fen),
        "0.00",
    ]
    if bill_type == "SUCCESS":
        return [*head, row.description, row.attach, yuan5(row.fee_fen), FEE_RATE, fen_to_yuan(row.order_fen), ""]
    refund_part = [
        row.refund_id,
        row.out_refund_no,
        fen_to_yuan(row.refund_fen),
        "0.00",
        row.refund_type,
        row.refund_status,
    ]
    if bill_type == "REFUND":
        times = [
            china_datetime_text(row.refund_requested) if row.refund_requested is not None else "",
            china_datetime_text(row.refund_succeeded) if row.refund_succeeded is not None else "",
        ]
        refund_part = times + refund_part
    return [
        *head,
        *refund_part,
        row.description,
        row.attach,
        yuan5(row.fee_fen),
        FEE_RATE,
        fen_to_yuan(row.order_fen),
        fen_to_yuan(row.requested_refund_fen),
        "",
    ]


def _csv_value(text: str) -> str:
    # Free text must not break the comma layout.
    return text.replace(",", "，").replace("\r", "\\r").replace("\n", "\\n")


def render_bill(rows: list[BillRow], bill_type: str) -> bytes:
    """The CSV bytes (UTF-8, CRLF lines) of a bill of ``bill_type`` over ``rows``."""
    if bill_type == "SUCCESS":
        selected = [r for r in rows if r.kind == "payment"]
        header, summary_header = HEADER_SUCCESS, SUMMARY_SUCCESS
    elif bill_type == "REFUND":
        selected = [r for r in rows if r.kind != "payment"]
        header, summary_header = HEADER_REFUND, SUMMARY_ALL
    else:
        selected = rows
        header, summary_header = HEADER_ALL, SUMMARY_ALL
    lines = [header]
    for row in selected:
        lines.append(",".join("`" + _csv_value(f) for f in _fields(row, bill_type)))
    count = len(selected)
    settled = sum(r.settled_fen for r in selected)
    fees = sum(r.fee_fen for r in selected)
    ordered = sum(r.order_fen for r in selected)
    if bill_type == "SUCCESS":
        summary = [str(count), fen_to_yuan(settled), yuan5(fees), fen_to_yuan(ordered)]
    else:
        refunded = sum(r.refund_fen for r in selected)
        requested = sum(r.requested_refund_fen for r in selected)
        summary = [
            str(count),
            fen_to_yuan(settled),
            fen_to_yuan(refunded),
            "0.00",
            yuan5(fees),
            fen_to_yuan(ordered),
            fen_to_yuan(requested),
        ]
    lines.append(summary_header)
    lines.append(",".join("`" + f for f in summary))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
