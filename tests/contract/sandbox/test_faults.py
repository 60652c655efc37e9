"""Fault injection: latency, lost replies, 5xx, notification trouble, clock skew — and their scoping."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from pos_app.sandbox.app import create_app
from pos_app.sandbox.demo import free_loopback_port
from pos_app.sandbox.faults import FaultKind, FaultRegistry, FaultSpec
from tests.contract.sandbox.conftest import START, UA, Sandbox, WechatClient, decrypt, merchant_of


async def add(box: Sandbox, **spec: Any) -> dict[str, Any]:
    response = await box.http.post("/sandbox/faults", json=spec)
    assert response.status_code == 201, response.text
    fault: dict[str, Any] = response.json()
    return fault


async def test_control_endpoints(sandbox: Sandbox) -> None:
    first = await add(sandbox, kind="latency", seconds=0.01)
    await add(sandbox, kind="server_error", gateway="alipay", times=2)
    assert [f["kind"] for f in (await sandbox.http.get("/sandbox/faults")).json()] == ["latency", "server_error"]
    assert (await sandbox.http.delete(f"/sandbox/faults/{first['id']}")).json() == {"cleared": 1}
    assert (await sandbox.http.delete("/sandbox/faults/999")).status_code == 404
    assert (await sandbox.http.delete("/sandbox/faults")).json() == {"cleared": 1}
    assert (await sandbox.http.get("/sandbox/faults")).json() == []
    assert (await sandbox.http.post("/sandbox/faults", json={"kind": "nonsense"})).status_code == 422
    assert (await sandbox.http.post("/sandbox/faults", json={"kind": "latency", "probability": 2})).status_code == 422


async def test_latency(sandbox: Sandbox) -> None:
    await add(sandbox, kind="latency", seconds=0.3, operation="query")
    started = time.monotonic()
    assert (await sandbox.wechat.query("SBX20261120X1")).status_code == 404
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await sandbox.wechat.native("SBX20261120X1", 100)  # another operation: no delay
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize(
    ("status", "code"), [(500, "SYSTEM_ERROR"), (503, "SERVICE_UNAVAILABLE"), (429, "RATELIMIT_EXCEEDED")]
)
async def test_server_error_changes_nothing(sandbox: Sandbox, status: int, code: str) -> None:
    await add(sandbox, kind="server_error", status=status, operation="codepay", times=1)
    auth_code = await sandbox.authcode()
    response = await sandbox.wechat.codepay("SBX20261120X2", 100, auth_code)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert sandbox.verify(response)
    assert (await sandbox.wechat.query("SBX20261120X2")).status_code == 404  # nothing was done
    # Used up: the retry with the same parameters goes through, once.
    assert (await sandbox.wechat.codepay("SBX20261120X2", 100, auth_code)).json()["trade_state"] == "SUCCESS"


async def test_reply_lost_after_commit_is_a_transport_error(sandbox: Sandbox) -> None:
    await add(sandbox, kind="reply_lost", out_trade_no="SBX20261120X3")
    with pytest.raises(httpx.TransportError):
        await sandbox.wechat.codepay("SBX20261120X3", 100, await sandbox.authcode())
    await sandbox.http.delete("/sandbox/faults")
    # The gateway did charge: the caller must find out by querying.
    assert (await sandbox.wechat.query("SBX20261120X3")).json()["trade_state"] == "SUCCESS"
    # Other orders are not affected by an order-scoped fault.
    await add(sandbox, kind="reply_lost", out_trade_no="SBX20261120ZZ")
    assert (await sandbox.wechat.native("SBX20261120X4", 100)).status_code == 200


@pytest.fixture
def served(demo_settings: Any) -> Iterator[tuple[str, Any]]:
    """The sandbox on a real loopback socket (uvicorn in a thread)."""
    app = create_app(demo_settings)
    host, port = "127.0.0.1", free_loopback_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=int(port), log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://{host}:{port}", demo_settings
    server.should_exit = True
    thread.join(10)


async def test_reply_lost_drops_the_connection_on_a_real_socket(served: tuple[str, Any]) -> None:
    url, settings = served
    async with httpx.AsyncClient(base_url=url) as http:
        fault = await http.post("/sandbox/faults", json={"kind": "reply_lost", "operation": "native"})
        assert fault.status_code == 201
        client = WechatClient(http, merchant_of(settings), _RealClock(), base_url=url)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.native("SBX20261120X5", 100)
        await http.delete("/sandbox/faults")
        assert (await client.query("SBX20261120X5")).json()["trade_state"] == "NOTPAY"


class _RealClock:
    def now(self) -> float:
        return time.time()


async def test_probability_is_seeded_and_repeatable() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = FaultRegistry(seed=seed)
        faults.add(FaultSpec(kind=FaultKind.SERVER_ERROR, probability=0.5))
        return [faults.match(FaultKind.SERVER_ERROR, gateway="wechat") is not None for _ in range(60)]

    first = pattern(7)
    assert first == pattern(7)
    assert 10 < sum(first) < 50


async def test_a_fault_draws_from_its_own_seed() -> None:
    """A plan's fault hits the same requests whatever the sandbox's seed and whatever ran before it."""

    def pattern(sandbox_seed: int, fault_seed: int, earlier: int) -> list[bool]:
        faults = FaultRegistry(seed=sandbox_seed)
        for _ in range(earlier):  # faults of earlier rounds, used and removed
            old = faults.add(FaultSpec(kind=FaultKind.SERVER_ERROR, probability=0.5))
            faults.match(FaultKind.SERVER_ERROR)
            faults.remove(old.id)
        faults.add(FaultSpec(kind=FaultKind.SERVER_ERROR, probability=0.5, seed=fault_seed))
        return [faults.match(FaultKind.SERVER_ERROR, gateway="wechat") is not None for _ in range(60)]

    first = pattern(0, 11, 0)
    assert first == pattern(0, 11, 3) == pattern(5, 11, 1)
    assert first != pattern(0, 12, 0)
    assert 10 < sum(first) < 50


async def test_scoping_by_gateway_operation_and_order() -> None:
    faults = FaultRegistry()
    faults.add(FaultSpec(kind=FaultKind.SERVER_ERROR, gateway="alipay", operation="alipay.trade.pay"))
    faults.add(FaultSpec(kind=FaultKind.REPLY_LOST, out_trade_no="A1"))
    assert faults.match(FaultKind.SERVER_ERROR, gateway="wechat", operation="alipay.trade.pay") is None
    assert faults.match(FaultKind.SERVER_ERROR, gateway="alipay", operation="alipay.trade.query") is None
    assert faults.match(FaultKind.SERVER_ERROR, gateway="alipay", operation="alipay.trade.pay") is not None
    assert faults.match(FaultKind.REPLY_LOST, gateway="alipay", out_trade_no="A2") is None
    assert faults.match(FaultKind.REPLY_LOST, gateway="wechat", out_trade_no="A1") is not None
    assert faults.match(FaultKind.LATENCY) is None


async def _pay_native(box: Sandbox, out_trade_no: str) -> None:
    code_url = (await box.wechat.native(out_trade_no, 100)).json()["code_url"]
    assert (await box.pay(code_url))["ok"]


async def test_notification_dropped(sandbox: Sandbox) -> None:
    await add(sandbox, kind="notify_drop", out_trade_no="SBX20261120X6")
    await _pay_native(sandbox, "SBX20261120X6")
    await _pay_native(sandbox, "SBX20261120X7")
    await sandbox.advance(3600)
    assert [json.loads(b)["event_type"] for _, b in sandbox.receiver.received] == ["TRANSACTION.SUCCESS"]
    states = {n["out_trade_no"]: n["state"] for n in (await sandbox.http.get("/sandbox/notifications")).json()}
    assert states == {"SBX20261120X6": "dropped", "SBX20261120X7": "delivered"}


async def test_notification_duplicated(sandbox: Sandbox) -> None:
    await add(sandbox, kind="notify_duplicate")
    await _pay_native(sandbox, "SBX20261120X8")
    await sandbox.advance(0)
    bodies = [b for _, b in sandbox.receiver.received]
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same event id twice


async def test_notification_delayed(sandbox: Sandbox) -> None:
    await add(sandbox, kind="notify_delay", seconds=40)
    await _pay_native(sandbox, "SBX20261120X9")
    await sandbox.advance(39)
    assert sandbox.receiver.received == []
    await sandbox.advance(1)
    assert len(sandbox.receiver.received) == 1


async def test_notifications_reordered(sandbox: Sandbox) -> None:
    await add(sandbox, kind="notify_reorder", out_trade_no="SBX20261120XA", times=1)
    await _pay_native(sandbox, "SBX20261120XA")
    await _pay_native(sandbox, "SBX20261120XB")
    await sandbox.advance(0)
    await sandbox.advance(1)
    order = [json.loads(b) for _, b in sandbox.receiver.received]
    assert len(order) == 2
    ids = [n["out_trade_no"] for n in (await sandbox.http.get("/sandbox/notifications")).json()]
    assert ids == ["SBX20261120XA", "SBX20261120XB"]
    # The later one arrived first.
    delivered = [json.loads(decrypt(sandbox.merchant.apiv3, e["resource"]))["out_trade_no"] for e in order]
    assert delivered == ["SBX20261120XB", "SBX20261120XA"]


async def test_reordered_notification_is_released_when_nothing_overtakes_it(sandbox: Sandbox) -> None:
    await add(sandbox, kind="notify_reorder", seconds=20)
    await _pay_native(sandbox, "SBX20261120XC")
    await sandbox.advance(19)
    assert sandbox.receiver.received == []
    await sandbox.advance(1)
    assert len(sandbox.receiver.received) == 1


async def test_clock_skew(sandbox: Sandbox) -> None:
    await add(sandbox, kind="clock_skew", seconds=400, gateway="wechat")
    # The gateway's clock is 400 s ahead: a request stamped with the true time is stale to it...
    response = await sandbox.wechat.query("SBX20261120XD")
    assert response.status_code == 401
    assert int(response.headers["wechatpay-timestamp"]) == int(START.timestamp()) + 400
    # ...and one stamped with the gateway's time passes.
    stamped = str(int(START.timestamp()) + 400)
    target = f"/v3/pay/transactions/out-trade-no/SBX20261120XD?mchid={sandbox.merchant.mchid}"
    assert (await sandbox.wechat.request("GET", target, timestamp=stamped)).status_code == 404
    # Notifications carry the skewed time too.
    await sandbox.http.delete("/sandbox/faults")
    await add(sandbox, kind="clock_skew", seconds=-200)
    await _pay_native(sandbox, "SBX20261120XE")
    await sandbox.advance(0)
    headers, _ = sandbox.receiver.received[0]
    assert int(headers["wechatpay-timestamp"]) == int(START.timestamp()) - 200


async def test_latency_does_not_block_other_requests(sandbox: Sandbox) -> None:
    await add(sandbox, kind="latency", seconds=0.5, out_trade_no="SBX20261120XF")
    slow = asyncio.create_task(sandbox.wechat.query("SBX20261120XF"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    assert (await sandbox.wechat.query("SBX20261120XG")).status_code == 404
    assert time.monotonic() - started < 0.5
    assert (await slow).status_code == 404
    assert UA  # the same client identity is used throughout
