"""The gateway callback routes: a real sandbox notification is verified, stored and acknowledged;
forged, stale or oversized bodies are refused before anything changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from api_support import ENGINE_URL, Stack
from test_api_payments import native, wait_for

from pos_app.api.client import EngineClient
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState


async def test_sandbox_notification_is_acknowledged_and_counted(stack: Stack, client: EngineClient) -> None:
    view = await client.create_payment(native(Channel.WECHAT))
    await stack.pay_qr(view.code_url or "")
    await wait_for(client, view.out_trade_no, {PaymentState.PAID})
    records: list[dict[str, object]] = []
    for _ in range(50):
        response = await stack.sandbox_http.get("/sandbox/notifications", params={"out_trade_no": view.out_trade_no})
        records = response.json()
        if records and records[0]["state"] == "delivered":
            break
        await asyncio.sleep(0.1)
    assert records and records[0]["state"] == "delivered" and records[0]["last_status"] in (200, 204)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        metrics = (await raw.get("/metrics")).text
    assert 'pos_engine_notification_lag_seconds_count{channel="wechat"} 1.0' in metrics
    assert 'route="/notify/wechatpay",status="200"' in metrics or 'route="/notify/wechatpay",status="204"' in metrics


async def test_forged_and_oversized_notifications_are_refused(stack: Stack) -> None:
    limit = stack.settings.engine.max_notify_body_bytes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        forged = await raw.post(
            "/notify/wechatpay",
            content=b'{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource":{}}',
            headers={
                "Wechatpay-Timestamp": "1700000000", "Wechatpay-Nonce": "n", "Wechatpay-Serial": "PUB_KEY_ID_X",
                "Wechatpay-Signature": "WECHATPAY/SIGNTEST/xyz",
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            },
        )  # fmt: skip
        assert 400 <= forged.status_code < 500
        assert forged.json()["code"] == "FAIL"
        big = await raw.post("/notify/alipay", content=b"a=" + b"x" * (limit + 10))
        assert big.status_code == 413 and big.text == "fail"
        alipay = await raw.post("/notify/alipay", content=b"notify_id=1&sign=bad&sign_type=RSA2")
        assert 400 <= alipay.status_code < 500 and alipay.text != "success"


async def test_callbacks_bypass_the_framework_but_keep_its_guarantees(stack: Stack) -> None:
    """The callbacks are answered before FastAPI's middleware (the hot path): still size-limited when
    the body arrives in chunks without a length, still counted in /metrics, and other methods still
    get the framework's 405."""
    limit = stack.settings.engine.max_notify_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000

    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        streamed = await raw.post("/notify/wechatpay", content=chunks())
        assert streamed.status_code == 413 and streamed.json()["code"] == "FAIL"
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        unsigned = await raw.post("/notify/wechatpay", content=b"{}")
        assert unsigned.status_code == 401 and unsigned.json() == {
            "code": "FAIL",
            "message": unsigned.json()["message"],
        }
        assert unsigned.headers["content-type"] == "application/json"
        assert int(unsigned.headers["content-length"]) == len(unsigned.content)
        wrong_method = await raw.get("/notify/alipay")
        assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
        metrics = (await raw.get("/metrics")).text
    assert 'pos_engine_requests_total{method="POST",route="/notify/wechatpay",status="413"} 1.0' in metrics
    assert 'pos_engine_requests_total{method="POST",route="/notify/wechatpay",status="401"} 1.0' in metrics
    assert 'pos_engine_requests_total{method="GET",route="/notify/alipay",status="405"} 1.0' in metrics
