"""Asynchronous trade notifications (trade_status_sync), spec alipay-f2f.md §4.

A form-encoded body in UTF-8, signed with the gateway key over every field except ``sign`` and
``sign_type`` (sorted, non-empty, ``k=v`` joined with ``&``). :func:`resign` refreshes
``notify_time`` for each delivery attempt, as the gateway stamps the time it sends.
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.domain.money import fen_to_yuan
from pos_app.sandbox.alipay.model import FUND_CHANNEL, Notice, Status, Trade, fmt_time, new_notify_id
from pos_app.sandbox.alipay.signing import sign_notification

CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
SELLER_EMAIL = "sandbox_seller@alipay.com"


def notification_params(trade: Trade, notice: Notice, *, now: datetime, app_id: str, seller_id: str) -> dict[str, str]:
    """Every field of the notification except ``sign`` (empty ones are left out)."""
    refund = notice.refund
    paid = trade.paid
    money = fen_to_yuan(trade.total_fen) if paid else ""
    params: dict[str, str] = {
        "notify_time": fmt_time(now),
        "notify_type": "trade_status_sync",
        "notify_id": new_notify_id(),
        "app_id": trade.app_id or app_id,
        "auth_app_id": trade.app_id or app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": trade.trade_no or "",
        "out_trade_no": trade.out_trade_no,
        "out_biz_no": refund.out_request_no if refund is not None else "",
        "buyer_id": trade.buyer_user_id,
        "buyer_open_id": trade.buyer_open_id,
        "buyer_logon_id": trade.buyer_logon_id,
        "seller_id": seller_id,
        "seller_email": SELLER_EMAIL,
        "trade_status": notice.trade_status.value,
        "total_amount": fen_to_yuan(trade.total_fen),
        "receipt_amount": money,
        "invoice_amount": money,
        "buyer_pay_amount": money,
        "point_amount": "0.00" if paid else "",
        "refund_fee": fen_to_yuan(refund.refund_fee_after) if refund is not None else "",
        "subject": trade.subject,
        "body": trade.body,
        "gmt_create": fmt_time(trade.created_at) if trade.created_at else "",
        "gmt_payment": fmt_time(trade.paid_at) if trade.paid_at else "",
        "gmt_refund": fmt_time(refund.refunded_at) if refund is not None else "",
        "gmt_close": fmt_time(trade.closed_at)
        if trade.closed_at and notice.trade_status == Status.TRADE_CLOSED
        else "",
        "fund_bill_list": json.dumps([{"amount": money, "fundChannel": FUND_CHANNEL}], separators=(",", ":"))
        if paid
        else "",
    }
    return {k: v for k, v in params.items() if v != ""}


def signed_body(params: dict[str, str], private_key: rsa.RSAPrivateKey) -> bytes:
    """The POST body: the params plus ``sign``, form-encoded in UTF-8."""
    signed = {**params, "sign": sign_notification(private_key, params)}
    return urlencode(signed, encoding="utf-8").encode("ascii")


def resign(body: bytes, private_key: rsa.RSAPrivateKey, now: datetime) -> bytes:
    """The same notification with this attempt's ``notify_time``, signed again."""
    params = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8"))
    params.pop("sign", None)
    params["notify_time"] = fmt_time(now)
    return signed_body(params, private_key)
