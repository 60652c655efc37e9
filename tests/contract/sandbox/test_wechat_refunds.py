"""Refunds and refund queries on the simulated WeChat Pay v3 gateway (spec §4 refund rules)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from tests.contract.sandbox.conftest import NOTIFY_URL, START, Sandbox


async def _paid_native(box: Sandbox, out_trade_no: str, total: int) -> dict[str, Any]:
    code_url = (await box.wechat.native(out_trade_no, total)).json()["code_url"]
    assert (await box.pay(code_url))["ok"]
    paid: dict[str, Any] = (await box.wechat.query(out_trade_no)).json()
    return paid


async def test_partial_refund_settles_later(sandbox: Sandbox) -> None:
    paid = await _paid_native(sandbox, "SBX20261120F1", 1000)
    response = await sandbox.wechat.refund("SBX20261120F1", "RF20261120F1A", 300, 1000, reason="damaged")
    assert response.status_code == 200
    assert sandbox.verify(response)
    refund = response.json()
    assert refund["status"] == "PROCESSING"
    assert re.fullmatch(r"\d{29}", refund["refund_id"])
    assert refund["out_trade_no"] == "SBX20261120F1" and refund["transaction_id"] == paid["transaction_id"]
    assert refund["amount"]["refund"] == 300 and refund["amount"]["total"] == 1000
    assert refund["amount"]["payer_refund"] == 300 and refund["amount"]["currency"] == "CNY"
    assert refund["channel"] == "ORIGINAL" and refund["create_time"] == START.isoformat()
    assert "success_time" not in refund
    assert (await sandbox.wechat.query("SBX20261120F1")).json()["trade_state"] == "REFUND"

    await sandbox.advance(3)
    settled = await sandbox.wechat.request("GET", "/v3/refund/domestic/refunds/RF20261120F1A")
    assert settled.status_code == 200 and sandbox.verify(settled)
    assert settled.json()["status"] == "SUCCESS"
    assert settled.json()["success_time"] == (START + timedelta(seconds=3)).isoformat()
    missing = await sandbox.wechat.request("GET", "/v3/refund/domestic/refunds/RF20261120NONE")
    assert (missing.status_code, missing.json()["code"]) == (404, "RESOURCE_NOT_EXISTS")


async def test_refund_retry_is_idempotent_and_checked(sandbox: Sandbox) -> None:
    await _paid_native(sandbox, "SBX20261120F2", 1000)
    first = (await sandbox.wechat.refund("SBX20261120F2", "RF20261120F2A", 100, 1000)).json()
    again = await sandbox.wechat.refund("SBX20261120F2", "RF20261120F2A", 100, 1000)
    assert again.status_code == 200 and again.json()["refund_id"] == first["refund_id"]
    changed = await sandbox.wechat.refund("SBX20261120F2", "RF20261120F2A", 200, 1000)
    assert (changed.status_code, changed.json()["code"]) == (400, "INVALID_REQUEST")


async def test_refund_sum_interval_and_total(sandbox: Sandbox) -> None:
    paid = await _paid_native(sandbox, "SBX20261120F3", 1000)
    assert (await sandbox.wechat.refund("SBX20261120F3", "RF20261120F3A", 600, 1000)).status_code == 200
    too_soon = await sandbox.wechat.refund("SBX20261120F3", "RF20261120F3B", 100, 1000)
    assert (too_soon.status_code, too_soon.json()["code"]) == (429, "FREQUENCY_LIMITED")
    sandbox.clock.advance(60)
    too_much = await sandbox.wechat.refund("SBX20261120F3", "RF20261120F3B", 401, 1000)
    assert (too_much.status_code, too_much.json()["code"]) == (400, "INVALID_REQUEST")
    wrong_total = await sandbox.wechat.refund("SBX20261120F3", "RF20261120F3B", 100, 999)
    assert (wrong_total.status_code, wrong_total.json()["detail"]["field"]) == (400, "amount.total")
    by_transaction = await sandbox.wechat.request(
        "POST",
        "/v3/refund/domestic/refunds",
        {
            "transaction_id": paid["transaction_id"],
            "out_refund_no": "RF20261120F3B",
            "amount": {"refund": 400, "total": 1000, "currency": "CNY"},
        },
    )
    assert by_transaction.status_code == 200 and by_transaction.json()["out_trade_no"] == "SBX20261120F3"
    sandbox.clock.advance(60)
    nothing_left = await sandbox.wechat.refund("SBX20261120F3", "RF20261120F3C", 1, 1000)
    assert nothing_left.json()["code"] == "INVALID_REQUEST"


async def test_at_most_fifty_refunds(sandbox: Sandbox) -> None:
    await _paid_native(sandbox, "SBX20261120F4", 100)
    for n in range(50):
        response = await sandbox.wechat.refund("SBX20261120F4", f"RF20261120F4{n:02d}", 1, 100)
        assert response.status_code == 200, (n, response.text)
        sandbox.clock.advance(61)
    response = await sandbox.wechat.refund("SBX20261120F4", "RF20261120F4XX", 1, 100)
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_REQUEST")
    assert "50" in response.json()["message"]


async def test_refunds_of_orders_that_took_no_money(sandbox: Sandbox) -> None:
    unknown = await sandbox.wechat.refund("SBX20261120NO", "RF20261120G1", 1, 100)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "RESOURCE_NOT_EXISTS")
    await sandbox.wechat.native("SBX20261120F5", 100)
    unpaid = await sandbox.wechat.refund("SBX20261120F5", "RF20261120G2", 1, 100)
    assert (unpaid.status_code, unpaid.json()["code"]) == (404, "RESOURCE_NOT_EXISTS")
    await sandbox.wechat.codepay("SBX20261120F6", 100, await sandbox.authcode())
    await sandbox.wechat.reverse("SBX20261120F6")
    reversed_ = await sandbox.wechat.refund("SBX20261120F6", "RF20261120G3", 1, 100)
    assert (reversed_.status_code, reversed_.json()["code"]) == (400, "INVALID_REQUEST")
    bad_no = await sandbox.wechat.refund("SBX20261120F5", "RF 1", 1, 100)
    assert (bad_no.status_code, bad_no.json()["detail"]["field"]) == (400, "out_refund_no")
    zero = await sandbox.wechat.refund("SBX20261120F5", "RF20261120G4", 0, 100)
    assert zero.json()["detail"]["field"] == "amount.refund"


async def test_refund_window_is_one_year(sandbox: Sandbox) -> None:
    await _paid_native(sandbox, "SBX20261120F7", 100)
    sandbox.clock.advance(366 * 86400)
    response = await sandbox.wechat.refund("SBX20261120F7", "RF20261120F7A", 1, 100)
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_REQUEST")


async def test_refund_notification_is_sent_to_the_refund_notify_url(sandbox: Sandbox) -> None:
    await _paid_native(sandbox, "SBX20261120F8", 500)
    await sandbox.advance(0)
    sandbox.receiver.received.clear()
    await sandbox.wechat.refund("SBX20261120F8", "RF20261120F8A", 200, 500, notify_url=NOTIFY_URL)
    await sandbox.advance(1)
    assert sandbox.receiver.received == []  # still processing
    await sandbox.advance(2)
    assert [e["event_type"] for e in sandbox.receiver.envelopes()] == ["REFUND.SUCCESS"]
