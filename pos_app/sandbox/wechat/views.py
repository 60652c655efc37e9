"""The JSON objects the WeChat gateway answers with: the transaction and the refund (spec §4).

The transaction view is also the plaintext of TRANSACTION.SUCCESS.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pos_app.sandbox.clock import rfc3339_china

#: The paying bank the sandbox reports (the real gateway names the customer's card or 零钱).
BANK_TYPE = "OTHERS"
#: Where a refund's money goes back to, as the gateway writes it.
USER_RECEIVED_ACCOUNT = "支付用户零钱"

_DESC = {
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "REVOKED": "已撤销",
    "USERPAYING": "用户支付中（需要输入密码）",
}


def transaction_view(row: sqlite3.Row) -> dict[str, Any]:
    """The transaction object of the order query (and of TRANSACTION.SUCCESS)."""
    state = row["trade_state"]
    view: dict[str, Any] = {
        "appid": row["appid"],
        "mchid": row["mchid"],
        "out_trade_no": row["out_trade_no"],
        "trade_type": row["trade_type"],
        "trade_state": state,
        "trade_state_desc": row["trade_state_desc"] or _DESC.get(state, ""),
        "attach": row["attach"] or "",
        "amount": {"total": row["total"], "currency": row["currency"]},
    }
    if row["transaction_id"]:
        view.update(
            {
                "transaction_id": row["transaction_id"],
                "bank_type": row["bank_type"] or BANK_TYPE,
                "success_time": rfc3339_china(row["success_time"]),
                "payer": {"openid": row["openid"]},
                "promotion_detail": [],
            }
        )
        view["amount"].update({"payer_total": row["total"], "payer_currency": row["currency"]})
    if row["device_id"]:
        view["scene_info"] = {"device_id": row["device_id"]}
    return view


def refund_view(row: sqlite3.Row) -> dict[str, Any]:
    """The refund object of the refund create and query."""
    view: dict[str, Any] = {
        "refund_id": row["refund_id"],
        "out_refund_no": row["out_refund_no"],
        "transaction_id": row["transaction_id"],
        "out_trade_no": row["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": USER_RECEIVED_ACCOUNT,
        "create_time": rfc3339_china(row["create_time"]),
        "status": row["status"],
        "funds_account": row["funds_account"] or "AVAILABLE",
        "amount": {
            "total": row["total"],
            "refund": row["refund"],
            "from": [],
            "payer_total": row["total"],
            "payer_refund": row["refund"],
            "settlement_refund": row["refund"],
            "settlement_total": row["total"],
            "discount_refund": 0,
            "currency": row["currency"],
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if row["success_time"] is not None:
        view["success_time"] = rfc3339_china(row["success_time"])
    return view
