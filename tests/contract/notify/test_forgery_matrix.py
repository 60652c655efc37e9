"""Notification forgery matrix (issue 16, finding 4): notifications validly signed with the sandbox's
gateway keys but inconsistent with the order they name are acknowledged, kept in the inbox as flagged
with the reason, shown in the daily report and /metrics, and never applied."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment, PaymentView
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.money import fen_to_yuan
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.engine.store.models import InboxNotification
from pos_app.sandbox.alipay.notify import signed_body
from pos_app.sandbox.context import SandboxContext
from tests.contract.api.api_support import ENGINE_URL, STORE, TERMINAL, Stack
from tests.unit.providers.provider_test_helpers import wechat_headers, wechat_notification

AMOUNT = 2500
_seq = itertools.count(1)
_events = itertools.count(1)


def _native(channel: Channel) -> CreatePayment:
    otn = make_trade_no(IdKind.PAYMENT, store=STORE, terminal=TERMINAL, seq=next(_seq), at=datetime.now())
    return CreatePayment(
        out_trade_no=otn, amount_fen=AMOUNT, mode=PaymentMode.NATIVE, channel=channel, subject="Lunch", operator="a"
    )


def _sandbox(stack: Stack) -> SandboxContext:
    ctx: SandboxContext = stack.sandbox.state.ctx
    return ctx


def wechat_forgery(stack: Stack, otn: str, **change: Any) -> tuple[str, dict[str, str], bytes]:
    """A TRANSACTION.SUCCESS signed and encrypted with the sandbox's WeChat keys; ``change`` edits the
    resource (a value of None removes the field)."""
    keys = _sandbox(stack).keys.wechat
    resource: dict[str, Any] = {
        "mchid": keys.mchid,
        "appid": keys.appid,
        "out_trade_no": otn,
        "transaction_id": f"4200000000{time.time_ns() % 10**18:018d}",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": "2026-11-22T20:00:00+08:00",
        "payer": {"openid": "oForgery"},
        "amount": {"total": AMOUNT, "payer_total": AMOUNT, "currency": "CNY", "payer_currency": "CNY"},
    }
    for key, value in change.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    event_id = f"EV-FORGED-{next(_events)}"
    body = wechat_notification(
        keys.apiv3_key, "TRANSACTION.SUCCESS", resource, event_id=event_id, original_type="transaction"
    )
    headers = wechat_headers(keys.pay_private_key, keys.pub_key_id, body, timestamp=int(time.time()))
    return event_id, headers, body


def alipay_forgery(stack: Stack, otn: str, **change: str | None) -> tuple[str, dict[str, str], bytes]:
    """A trade_status_sync signed with the sandbox's Alipay gateway key; ``change`` edits its fields."""
    keys = _sandbox(stack).keys.alipay
    notify_id = f"forged{next(_events)}"
    params: dict[str, str] = {
        "notify_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": keys.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": f"2026112222001{time.time_ns() % 10**15:015d}",
        "out_trade_no": otn,
        "seller_id": keys.seller_id,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": fen_to_yuan(AMOUNT),
        "gmt_payment": "2026-11-22 20:00:00",
    }
    for key, value in change.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    body = signed_body(params, keys.gateway_private_key)
    return notify_id, {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}, body


def inbox_row(stack: Stack, event_id: str) -> InboxNotification:
    ledger = stack.engine.state.engine.use_cases.context.tx.ledger
    with Session(ledger) as session:
        row = session.exec(select(InboxNotification).where(InboxNotification.event_id == event_id)).one()
    return row


async def _orders(stack: Stack, client: EngineClient) -> dict[tuple[Channel, str], PaymentView]:
    """An unpaid QR order and a paid one on each gateway."""
    orders: dict[tuple[Channel, str], PaymentView] = {}
    for channel in (Channel.WECHAT, Channel.ALIPAY):
        orders[channel, "unpaid"] = await client.create_payment(_native(channel))
        paid = await client.create_payment(_native(channel))
        await stack.pay_qr(paid.code_url or "")
        for _ in range(100):
            paid = await client.get_payment(paid.out_trade_no)
            if paid.state is PaymentState.PAID:
                break
            await _pause()
        assert paid.state is PaymentState.PAID
        orders[channel, "paid"] = paid
    return orders


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)


#: (name, gateway that signs, which order, changes to the notification, the reason expected)
MATRIX: list[tuple[str, Channel, tuple[Channel, str], dict[str, Any], str]] = [
    ("wechat for an alipay order", Channel.WECHAT, (Channel.ALIPAY, "unpaid"), {},
     "sent by WeChat Pay about an order on Alipay"),
    ("wechat without amount", Channel.WECHAT, (Channel.WECHAT, "unpaid"), {"amount": None},
     "TRANSACTION.SUCCESS without amount.total"),
    ("wechat another amount", Channel.WECHAT, (Channel.WECHAT, "unpaid"),
     {"amount": {"total": 1, "payer_total": 1, "currency": "CNY", "payer_currency": "CNY"}},
     "amount ¥0.01 differs from the order's ¥25.00"),
    ("wechat REVOKED under TRANSACTION.SUCCESS", Channel.WECHAT, (Channel.WECHAT, "paid"),
     {"trade_state": "REVOKED"}, "TRANSACTION.SUCCESS whose trade_state is 'REVOKED'"),
    ("wechat CLOSED for a paid order", Channel.WECHAT, (Channel.WECHAT, "paid"),
     {"trade_state": "CLOSED"}, "would move a PAID order to CLOSED"),
    ("wechat without mchid", Channel.WECHAT, (Channel.WECHAT, "unpaid"), {"mchid": None},
     "mchid 'None' is not this merchant's"),
    ("wechat another appid", Channel.WECHAT, (Channel.WECHAT, "unpaid"), {"appid": "wx0000000000000000"},
     "appid 'wx0000000000000000' is not this merchant's"),
    ("alipay for a wechat order", Channel.ALIPAY, (Channel.WECHAT, "unpaid"), {},
     "sent by Alipay about an order on WeChat Pay"),
    ("alipay without total_amount", Channel.ALIPAY, (Channel.ALIPAY, "unpaid"), {"total_amount": None},
     "TRADE_SUCCESS without a valid total_amount"),
    ("alipay another amount", Channel.ALIPAY, (Channel.ALIPAY, "unpaid"), {"total_amount": "0.01"},
     "amount ¥0.01 differs from the order's ¥25.00"),
    ("alipay TRADE_CLOSED for a paid order", Channel.ALIPAY, (Channel.ALIPAY, "paid"),
     {"trade_status": "TRADE_CLOSED", "gmt_payment": None}, "would move a PAID order to CLOSED"),
    ("alipay without seller_id", Channel.ALIPAY, (Channel.ALIPAY, "unpaid"), {"seller_id": None},
     "seller_id '' is not this merchant's"),
    ("alipay another app_id", Channel.ALIPAY, (Channel.ALIPAY, "unpaid"), {"app_id": "2021999999999999"},
     "app_id '2021999999999999' is not this merchant's"),
]  # fmt: skip


async def test_forged_notifications_are_kept_flagged_and_never_applied(stack: Stack, client: EngineClient) -> None:
    orders = await _orders(stack, client)
    expected: dict[str, tuple[str, str]] = {}  # event id -> (order, reason)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        for name, gateway, which, change, reason in MATRIX:
            order = orders[which]
            forge = wechat_forgery if gateway is Channel.WECHAT else alipay_forgery
            event_id, headers, body = forge(stack, order.out_trade_no, **change)
            path = "/notify/wechatpay" if gateway is Channel.WECHAT else "/notify/alipay"
            answer = await raw.post(path, content=body, headers=headers)
            # Acknowledged: the gateway stops sending it; it is kept, not lost.
            assert answer.status_code in (200, 204), (name, answer.status_code, answer.text)
            if gateway is Channel.ALIPAY:
                assert answer.text == "success", name
            after = await client.get_payment(order.out_trade_no)
            assert (after.state, after.transaction_id, after.needs_attention) == (
                order.state,
                order.transaction_id,
                order.needs_attention,
            ), name
            row = inbox_row(stack, event_id)
            assert row.outcome == "flagged" and row.applied_at is not None, name
            assert reason in row.parsed["flagged"], (name, row.parsed["flagged"])
            expected[event_id] = (order.out_trade_no, reason)
        metrics = (await raw.get("/metrics")).text
    wechat_cases = sum(1 for case in MATRIX if case[1] is Channel.WECHAT)
    assert f'pos_engine_notifications_flagged_total{{channel="wechat"}} {wechat_cases}.0' in metrics
    assert f'pos_engine_notifications_flagged_total{{channel="alipay"}} {len(MATRIX) - wechat_cases}.0' in metrics

    report = await client.daily_report()
    listed = {f.event_id: (f.out_trade_no, f.reasons) for f in report.flagged_notifications}
    assert listed.keys() == expected.keys()
    for event_id, (otn, reason) in expected.items():
        assert listed[event_id][0] == otn and reason in listed[event_id][1]
    # Nothing was applied: each order's status events are its own (created, code shown, paid).
    for order in orders.values():
        assert (await client.get_payment(order.out_trade_no)).state is order.state


async def test_a_flagged_notification_recorded_unapplied_is_flagged_again_by_the_resolver(
    stack: Stack, client: EngineClient
) -> None:
    """A recorded row keeps the provider's problems: re-applying it later flags it, never applies it."""
    from pos_app.engine.notify.records import insert_inbox, notification_from_record

    order = await client.create_payment(_native(Channel.WECHAT))
    event_id, headers, body = wechat_forgery(stack, order.out_trade_no, mchid="1")
    use_cases = stack.engine.state.engine.use_cases
    provider = use_cases.context.providers[Channel.WECHAT]
    parsed = provider.parse_notification({k.lower(): v for k, v in headers.items()}, body)
    ledger = use_cases.context.tx.ledger
    with Session(ledger) as session:
        insert_inbox(session.connection(), parsed, body, use_cases.context.now())
        session.commit()
    row = inbox_row(stack, event_id)
    assert notification_from_record(row).problems == ("mchid '1' is not this merchant's",)
    outcome = await use_cases.notifications.store(notification_from_record(row), body)
    assert outcome == "flagged"
    assert json.loads(json.dumps(inbox_row(stack, event_id).parsed))["flagged"] == ["mchid '1' is not this merchant's"]
    assert (await client.get_payment(order.out_trade_no)).state is PaymentState.AWAITING_SCAN


@pytest.mark.parametrize("channel", [Channel.WECHAT, Channel.ALIPAY])
async def test_a_genuine_notification_is_still_applied(stack: Stack, client: EngineClient, channel: Channel) -> None:
    order = await client.create_payment(_native(channel))
    await stack.pay_qr(order.code_url or "")
    for _ in range(100):
        if (await client.get_payment(order.out_trade_no)).state is PaymentState.PAID:
            break
        await _pause()
    assert (await client.get_payment(order.out_trade_no)).state is PaymentState.PAID
    assert (await client.daily_report()).flagged_notifications == []
