"""Native and codepay orders, query, close and reverse on the simulated WeChat Pay v3 gateway (spec §4)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.contract.sandbox.conftest import START, Sandbox

# ---- native -----------------------------------------------------------------------------------


async def test_native_order_is_paid_by_scanning_its_code_url(sandbox: Sandbox) -> None:
    created = await sandbox.wechat.native("SBX20261120N1", 1230, attach="till-1")
    assert created.status_code == 200
    code_url = created.json()["code_url"]
    assert re.fullmatch(r"weixin://wxpay/bizpayurl\?pr=[0-9A-Za-z]+", code_url)

    unpaid = (await sandbox.wechat.query("SBX20261120N1")).json()
    assert unpaid["trade_state"] == "NOTPAY"
    assert unpaid["trade_type"] == "NATIVE"
    assert unpaid["amount"] == {"total": 1230, "currency": "CNY"}
    assert "transaction_id" not in unpaid and "payer" not in unpaid and "success_time" not in unpaid

    outcome = await sandbox.pay(code_url)
    assert outcome["ok"] is True and outcome["state"] == "SUCCESS"
    paid_response = await sandbox.wechat.query("SBX20261120N1")
    assert sandbox.verify(paid_response)
    paid = paid_response.json()
    assert paid["trade_state"] == "SUCCESS"
    assert re.fullmatch(r"4200\d{24}", paid["transaction_id"])
    assert paid["amount"]["payer_total"] == 1230
    assert paid["payer"]["openid"]
    assert paid["attach"] == "till-1"
    assert paid["success_time"] == START.isoformat()
    assert paid["appid"] == sandbox.merchant.appid and paid["mchid"] == sandbox.merchant.mchid

    by_id = await sandbox.wechat.request(
        "GET", f"/v3/pay/transactions/id/{paid['transaction_id']}?mchid={sandbox.merchant.mchid}"
    )
    assert by_id.status_code == 200 and by_id.json() == paid
    unknown_id = await sandbox.wechat.request(
        "GET", f"/v3/pay/transactions/id/4200000000000000000000000000?mchid={sandbox.merchant.mchid}"
    )
    assert (unknown_id.status_code, unknown_id.json()["code"]) == (404, "ORDER_NOT_EXIST")

    again = await sandbox.pay(code_url)
    assert again["ok"] is False  # a QR code pays once


async def test_pay_after_seconds_and_failed_payment(sandbox: Sandbox) -> None:
    code_url = (await sandbox.wechat.native("SBX20261120N2", 500)).json()["code_url"]
    failed = await sandbox.pay(code_url, fail="balance")
    assert failed["ok"] is False and failed["state"] == "NOTPAY"
    assert (await sandbox.wechat.query("SBX20261120N2")).json()["trade_state"] == "NOTPAY"

    scheduled = await sandbox.pay(code_url, after_s=20)
    assert scheduled["ok"] is True and scheduled["state"] == "NOTPAY"
    sandbox.clock.advance(19)
    assert (await sandbox.wechat.query("SBX20261120N2")).json()["trade_state"] == "NOTPAY"
    sandbox.clock.advance(1)
    paid = (await sandbox.wechat.query("SBX20261120N2")).json()
    assert paid["trade_state"] == "SUCCESS"
    assert paid["success_time"] == (START + timedelta(seconds=20)).isoformat()


async def test_out_trade_no_rules_and_reuse(sandbox: Sandbox) -> None:
    for bad in ("SBX01", "X" * 33, "SBX2026#1120"):
        response = await sandbox.wechat.native(bad, 100)
        assert (response.status_code, response.json()["code"]) == (400, "PARAM_ERROR"), bad
        assert response.json()["detail"]["field"] == "out_trade_no"
    first = await sandbox.wechat.native("SBX20261120N3", 100)
    same = await sandbox.wechat.native("SBX20261120N3", 100)
    assert same.status_code == 200 and same.json() == first.json()  # identical params: same order
    different = await sandbox.wechat.native("SBX20261120N3", 101)
    assert (different.status_code, different.json()["code"]) == (400, "INVALID_REQUEST")
    assert different.headers["request-id"].endswith("-268498688")
    assert (await sandbox.wechat.close("SBX20261120N3")).status_code == 204
    closed = await sandbox.wechat.native("SBX20261120N3", 100)
    assert (closed.status_code, closed.json()["code"]) == (400, "ORDER_CLOSED")  # never reusable


@pytest.mark.parametrize("total", [0, -1, 1.5, "100", True])
async def test_amount_must_be_positive_integer_fen(sandbox: Sandbox, total: object) -> None:
    body = sandbox.wechat.order("SBX20261120N4", 1, notify_url="http://merchant.test/notify/wechat")
    body["amount"]["total"] = total
    response = await sandbox.wechat.request("POST", "/v3/pay/transactions/native", body)
    assert (response.status_code, response.json()["code"]) == (400, "PARAM_ERROR")
    assert response.json()["detail"]["field"] == "amount.total"


async def test_required_fields_and_limits(sandbox: Sandbox) -> None:
    body = sandbox.wechat.order("SBX20261120N5", 100)  # no notify_url
    response = await sandbox.wechat.request("POST", "/v3/pay/transactions/native", body)
    assert response.json()["detail"]["field"] == "notify_url"
    response = await sandbox.wechat.native("SBX20261120N5", 100, description="x" * 128)
    assert response.json()["detail"]["field"] == "description"
    response = await sandbox.wechat.native("SBX20261120N5", 100, attach="a" * 129)
    assert response.json()["detail"]["field"] == "attach"
    soon = (START + timedelta(seconds=30)).isoformat()
    response = await sandbox.wechat.native("SBX20261120N5", 100, time_expire=soon)
    assert response.json()["detail"]["field"] == "time_expire"
    body = sandbox.wechat.order("SBX20261120N5", 100, notify_url="http://merchant.test/notify/wechat")
    body["amount"]["currency"] = "USD"
    response = await sandbox.wechat.request("POST", "/v3/pay/transactions/native", body)
    assert response.json()["detail"]["field"] == "amount.currency"


async def test_expired_native_order_cannot_be_paid(sandbox: Sandbox) -> None:
    expire = (START + timedelta(minutes=2)).isoformat()
    code_url = (await sandbox.wechat.native("SBX20261120N6", 100, time_expire=expire)).json()["code_url"]
    sandbox.clock.advance(121)
    outcome = await sandbox.pay(code_url)
    assert outcome["ok"] is False and "expired" in outcome["message"]
    assert (await sandbox.wechat.query("SBX20261120N6")).json()["trade_state"] == "NOTPAY"


async def test_close(sandbox: Sandbox) -> None:
    assert (await sandbox.wechat.close("SBX20261120N9")).status_code == 404
    code_url = (await sandbox.wechat.native("SBX20261120N7", 100)).json()["code_url"]
    response = await sandbox.wechat.close("SBX20261120N7")
    assert response.status_code == 204 and response.content == b""
    assert sandbox.verify(response)
    assert (await sandbox.wechat.close("SBX20261120N7")).status_code == 204  # re-entrant
    assert (await sandbox.wechat.query("SBX20261120N7")).json()["trade_state"] == "CLOSED"
    assert (await sandbox.pay(code_url))["ok"] is False

    paid_url = (await sandbox.wechat.native("SBX20261120N8", 100)).json()["code_url"]
    await sandbox.pay(paid_url)
    response = await sandbox.wechat.close("SBX20261120N8")
    assert (response.status_code, response.json()["code"]) == (400, "ORDERPAID")

    # A payment scheduled for later does not happen once the order is closed.
    later_url = (await sandbox.wechat.native("SBX20261120NA", 100)).json()["code_url"]
    await sandbox.pay(later_url, after_s=10)
    assert (await sandbox.wechat.close("SBX20261120NA")).status_code == 204
    await sandbox.advance(11)
    assert (await sandbox.wechat.query("SBX20261120NA")).json()["trade_state"] == "CLOSED"


# ---- codepay ----------------------------------------------------------------------------------


async def test_codepay_instant_success_without_callback(sandbox: Sandbox) -> None:
    code = await sandbox.authcode()
    assert re.fullmatch(r"1[0-5]\d{16}", code)
    response = await sandbox.wechat.codepay("SBX20261120M1", 880, code)
    assert response.status_code == 200
    assert sandbox.verify(response)
    paid = response.json()
    assert paid["trade_state"] == "SUCCESS" and paid["trade_type"] == "MICROPAY"
    assert paid["scene_info"] == {"device_id": "T001"}
    assert paid["amount"]["total"] == 880 and paid["transaction_id"].startswith("4200")
    assert paid["promotion_detail"] == []
    # Retried with the same parameters: the same transaction, no second charge.
    again = await sandbox.wechat.codepay("SBX20261120M1", 880, code)
    assert again.status_code == 200 and again.json()["transaction_id"] == paid["transaction_id"]
    await sandbox.advance(60)
    assert sandbox.receiver.received == []  # codepay orders get no callback


async def test_codepay_password_then_success_on_query(sandbox: Sandbox) -> None:
    code = await sandbox.authcode(password_seconds=12)
    response = await sandbox.wechat.codepay("SBX20261120M2", 150000, code)
    assert response.status_code == 202
    assert response.json() == {"trade_state": "USERPAYING"}
    sandbox.clock.advance(5)
    assert (await sandbox.wechat.query("SBX20261120M2")).json()["trade_state"] == "USERPAYING"
    sandbox.clock.advance(7)
    done = (await sandbox.wechat.query("SBX20261120M2")).json()
    assert done["trade_state"] == "SUCCESS"
    assert done["success_time"] == (START + timedelta(seconds=12)).isoformat()


async def test_codepay_customer_cancels_at_the_password(sandbox: Sandbox) -> None:
    code = await sandbox.authcode(password_seconds=8, user_cancels=True)
    assert (await sandbox.wechat.codepay("SBX20261120M3", 100, code)).status_code == 202
    await sandbox.advance(8)
    failed = (await sandbox.wechat.query("SBX20261120M3")).json()
    assert failed["trade_state"] == "PAYERROR"
    assert "取消" in failed["trade_state_desc"]
    assert "transaction_id" not in failed


async def test_codepay_not_enough_balance(sandbox: Sandbox) -> None:
    code = await sandbox.authcode(balance_fen=999)
    response = await sandbox.wechat.codepay("SBX20261120M4", 1000, code)
    assert (response.status_code, response.json()["code"]) == (403, "NOTENOUGH")
    assert (await sandbox.wechat.query("SBX20261120M4")).json()["trade_state"] == "PAYERROR"
    enough = await sandbox.authcode(balance_fen=1000)
    assert (await sandbox.wechat.codepay("SBX20261120M5", 1000, enough)).json()["trade_state"] == "SUCCESS"


async def test_codepay_code_errors(sandbox: Sandbox) -> None:
    expired = await sandbox.authcode(expired=True)
    response = await sandbox.wechat.codepay("SBX20261120M6", 100, expired)
    assert (response.status_code, response.json()["code"]) == (403, "AUTHCODEEXPIRE")

    stale = await sandbox.authcode()
    sandbox.clock.advance(61)  # a payment code lives about a minute
    response = await sandbox.wechat.codepay("SBX20261120M6", 100, stale)
    assert response.json()["code"] == "AUTHCODEEXPIRE"

    used = await sandbox.authcode()
    assert (await sandbox.wechat.codepay("SBX20261120M7", 100, used)).status_code == 200
    response = await sandbox.wechat.codepay("SBX20261120M8", 100, used)
    assert (response.status_code, response.json()["code"]) == (403, "AUTH_CODE_ERROR")

    for unknown in ("134567890123456789", await sandbox.authcode("alipay"), "12345"):
        response = await sandbox.wechat.codepay("SBX20261120M9", 100, unknown)
        assert (response.status_code, response.json()["code"]) == (400, "AUTH_CODE_INVALID")
    assert (await sandbox.wechat.query("SBX20261120M9")).status_code == 404  # nothing recorded


async def test_codepay_requires_scene_info(sandbox: Sandbox) -> None:
    body = sandbox.wechat.order("SBX20261120MA", 100, payer={"auth_code": await sandbox.authcode()})
    response = await sandbox.wechat.request("POST", "/v3/pay/transactions/codepay", body)
    assert (response.status_code, response.json()["detail"]["field"]) == (400, "scene_info")


async def test_codepay_orders_are_reversed_not_closed(sandbox: Sandbox) -> None:
    code = await sandbox.authcode()
    await sandbox.wechat.codepay("SBX20261120R1", 300, code)
    response = await sandbox.wechat.close("SBX20261120R1")
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_REQUEST")
    assert response.headers["request-id"].endswith("-268449641")

    response = await sandbox.wechat.reverse("SBX20261120R1")
    assert response.status_code == 200
    assert response.json() == {
        "appid": sandbox.merchant.appid,
        "mchid": sandbox.merchant.mchid,
        "out_trade_no": "SBX20261120R1",
    }
    assert sandbox.verify(response)
    assert (await sandbox.wechat.query("SBX20261120R1")).json()["trade_state"] == "REVOKED"
    assert (await sandbox.wechat.reverse("SBX20261120R1")).status_code == 200  # re-entrant
    retry = await sandbox.wechat.codepay("SBX20261120R1", 300, code)
    assert (retry.status_code, retry.json()["code"]) == (400, "ORDERREVERSED")

    native = await sandbox.wechat.native("SBX20261120R2", 100)
    assert native.status_code == 200
    response = await sandbox.wechat.reverse("SBX20261120R2")
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_REQUEST")
    assert (await sandbox.wechat.reverse("SBX20261120R9")).status_code == 404


async def test_reverse_while_the_customer_types_the_password(sandbox: Sandbox) -> None:
    code = await sandbox.authcode(password_seconds=60)
    assert (await sandbox.wechat.codepay("SBX20261120R3", 100, code)).status_code == 202
    sandbox.clock.advance(10)
    too_soon = await sandbox.wechat.reverse("SBX20261120R3")
    assert (too_soon.status_code, too_soon.json()["code"]) == (403, "USERPAYING")
    sandbox.clock.advance(35)  # 45 s: the POS gives up and reverses
    assert (await sandbox.wechat.reverse("SBX20261120R3")).status_code == 200
    await sandbox.advance(30)  # the password arrives too late: nothing is charged
    assert (await sandbox.wechat.query("SBX20261120R3")).json()["trade_state"] == "REVOKED"


async def test_reverse_window_and_refunded_orders(sandbox: Sandbox) -> None:
    await sandbox.wechat.codepay("SBX20261120R4", 100, await sandbox.authcode())
    sandbox.clock.advance(7 * 86400 + 1)
    response = await sandbox.wechat.reverse("SBX20261120R4")
    assert (response.status_code, response.json()["code"]) == (403, "REVERSE_EXPIRE")

    await sandbox.wechat.codepay("SBX20261120R5", 100, await sandbox.authcode())
    assert (await sandbox.wechat.refund("SBX20261120R5", "RSBX20261120R5", 50, 100)).status_code == 200
    response = await sandbox.wechat.reverse("SBX20261120R5")
    assert (response.status_code, response.json()["code"]) == (403, "TRADE_ERROR")


async def test_state_survives_a_restart(make_sandbox: object, sandbox: Sandbox) -> None:
    code_url = (await sandbox.wechat.native("SBX20261120S1", 700)).json()["code_url"]
    await sandbox.pay(code_url)
    restarted: Sandbox = await make_sandbox()  # type: ignore[operator]
    state = (await restarted.wechat.query("SBX20261120S1")).json()
    assert state["trade_state"] == "SUCCESS" and state["amount"]["total"] == 700
