"""Queue WeChat's encrypted notifications: TRANSACTION.SUCCESS and REFUND.* (spec §3, probes §2).

The resource is AEAD_AES_256_GCM under the APIv3 key; the notifier signs each delivery attempt
(``routes._preparer``). With ``signtest_probes`` on, every fifth notification is preceded by a
``WECHATPAY/SIGNTEST/`` probe that a correct receiver must reject.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from pos_app.engine.crypto.aead import encrypt_resource
from pos_app.sandbox.clock import rfc3339_china
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.wechat.ids import new_notification_nonce
from pos_app.sandbox.wechat.protocol import dump_json
from pos_app.sandbox.wechat.views import USER_RECEIVED_ACCOUNT, transaction_view

GATEWAY = "wechat"


def _enqueue_event(
    ctx: SandboxContext,
    *,
    url: str,
    event_type: str,
    summary: str,
    original_type: str,
    plaintext: dict[str, Any],
    out_trade_no: str,
) -> None:
    now = ctx.now(GATEWAY)
    nonce = new_notification_nonce()
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": rfc3339_china(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": encrypt_resource(ctx.keys.wechat.apiv3_key, nonce, original_type, dump_json(plaintext)),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    body = dump_json(envelope)
    if ctx.settings.sandbox.signtest_probes:
        sent = ctx.store.query_one("SELECT COUNT(*) AS n FROM notifications WHERE gateway = ?", (GATEWAY,))
        if sent is not None and sent["n"] % 5 == 0:
            ctx.notifier.enqueue(
                gateway=GATEWAY, url=url, body=body, event=event_type, out_trade_no=out_trade_no, probe=True
            )
    ctx.notifier.enqueue(gateway=GATEWAY, url=url, body=body, event=event_type, out_trade_no=out_trade_no)


def notify_paid(ctx: SandboxContext, order: sqlite3.Row) -> None:
    """TRANSACTION.SUCCESS to a native or JSAPI order's notify_url (codepay answers in the call itself)."""
    if order["trade_type"] in ("NATIVE", "JSAPI") and order["notify_url"]:
        _enqueue_event(
            ctx,
            url=order["notify_url"],
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            original_type="transaction",
            plaintext=transaction_view(order),
            out_trade_no=order["out_trade_no"],
        )


def notify_refund(ctx: SandboxContext, refund: sqlite3.Row) -> None:
    """REFUND.<status> to the refund's notify_url, when it named one."""
    if not refund["notify_url"]:
        return
    plaintext = {
        "mchid": ctx.keys.wechat.mchid,
        "out_trade_no": refund["out_trade_no"],
        "transaction_id": refund["transaction_id"],
        "out_refund_no": refund["out_refund_no"],
        "refund_id": refund["refund_id"],
        "refund_status": refund["status"],
        "success_time": rfc3339_china(refund["success_time"]),
        "user_received_account": USER_RECEIVED_ACCOUNT,
        "amount": {
            "total": refund["total"],
            "refund": refund["refund"],
            "payer_total": refund["total"],
            "payer_refund": refund["refund"],
        },
    }
    _enqueue_event(
        ctx,
        url=refund["notify_url"],
        event_type=f"REFUND.{refund['status']}",
        summary="退款成功",
        original_type="refund",
        plaintext=plaintext,
        out_trade_no=refund["out_trade_no"],
    )
