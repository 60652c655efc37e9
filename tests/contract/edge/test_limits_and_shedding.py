"""Per-terminal rate limits (429 + Retry-After), load shedding (reports first, payments and gateway
callbacks never), /healthz and /readyz, and their metrics — on the real engine app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import create_engine, text

from pos_app.config import Settings
from pos_app.domain.routing import Channel
from pos_app.engine.readiness import ReadinessProbe, all_closed
from tests.contract.api.api_support import Stack, open_stack

from .edge_support import AsgiCall, activate, junk_chunks, raw_client


@pytest.fixture
async def limited(demo_settings: Settings) -> AsyncIterator[Stack]:
    demo_settings.engine.rate_limit = "5/minute"
    async with open_stack(demo_settings) as stack:
        yield stack


async def test_a_terminal_over_its_rate_gets_429_with_retry_after(limited: Stack) -> None:
    busy = await activate(limited, "T001", "S00001")
    calm = await activate(limited, "T002", "S00001")
    async with raw_client(limited) as raw:
        for _ in range(5):
            ok = await raw.post("/v1/sync/batches", json={"events": []}, auth=busy.signer())
            assert ok.status_code == 200
        refused = await raw.post("/v1/sync/batches", json={"events": []}, auth=busy.signer())
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited" and "wait" in refused.json()["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        other = await raw.post("/v1/sync/batches", json={"events": []}, auth=calm.signer())
        assert other.status_code == 200  # the limit is per terminal
        text_ = (await raw.get("/metrics")).text
    assert 'pos_engine_refused_requests_total{reason="rate_limited"} 1.0' in text_


@pytest.fixture
async def crowded(demo_settings: Settings) -> AsyncIterator[Stack]:
    demo_settings.engine.shed_reports_in_flight = 2
    demo_settings.engine.max_in_flight = 4
    demo_settings.engine.retry_after_s = 7
    async with open_stack(demo_settings) as stack:
        yield stack


async def test_reports_are_shed_first_then_sync_while_payments_and_callbacks_go_on(crowded: Stack) -> None:
    till = await activate(crowded, "T001", "S00001")
    release = asyncio.Event()

    async def slow_upload() -> AsgiCall:
        """An activation whose body trickles in: in flight until released."""
        call = AsgiCall("POST", "/v1/terminals/activate", {}, junk_chunks(10, size=1))
        call.hold = release.wait
        return await call.run(crowded.engine)

    def in_flight() -> int:
        shedder = crowded.engine.shedder  # type: ignore[attr-defined]
        return int(shedder.in_flight)

    async def hold(count: int) -> list[asyncio.Task[AsgiCall]]:
        target = in_flight() + count
        tasks = [asyncio.create_task(slow_upload()) for _ in range(count)]
        for _ in range(200):
            if in_flight() >= target:
                break
            await asyncio.sleep(0.01)
        return tasks

    async with raw_client(crowded) as raw, till.client(crowded) as client:
        held = await hold(2)
        report = await raw.get("/v1/reports/daily", auth=till.signer())
        assert report.status_code == 503 and report.json()["code"] == "overloaded"
        assert report.headers["Retry-After"] == "7" and "Payments go on" in report.json()["message"]
        assert (await raw.post("/v1/sync/batches", json={"events": []}, auth=till.signer())).status_code == 200

        held += await hold(2)
        assert in_flight() == 4
        shed_sync = await raw.post("/v1/sync/batches", json={"events": []}, auth=till.signer())
        assert shed_sync.status_code == 503 and shed_sync.headers["Retry-After"] == "7"
        payment = await client.create_payment(till.native(Channel.ALIPAY))  # never shed
        assert (await client.get_payment(payment.out_trade_no)).out_trade_no == payment.out_trade_no
        callback = await raw.post("/notify/alipay", content=b"not=a&real=notification")
        assert callback.status_code != 503  # refused for what it is, not for the load
        assert (await raw.get("/healthz")).status_code == 200
        assert (await raw.get("/readyz")).status_code == 200
        metrics = (await raw.get("/metrics")).text
        assert 'pos_engine_refused_requests_total{reason="overloaded"} 2.0' in metrics
        assert "pos_engine_requests_in_flight 5.0" in metrics  # the four held and this scrape

        release.set()
        for call in await asyncio.gather(*held):
            assert call.status == 422 and json.loads(call.body)["code"] == "invalid_request"
        assert in_flight() == 0
        assert (await raw.get("/v1/reports/daily", auth=till.signer())).status_code == 200


async def test_readyz_reports_the_ledger_and_channels(stack: Stack) -> None:
    async with raw_client(stack) as raw:
        ready = await raw.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "database": "ok",
            "schema": "current",
            "channels": {"wechat": "closed", "alipay": "closed"},
        }
        with stack.registry.engine.begin() as connection:
            head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        behind = await raw.get("/readyz")
        assert behind.status_code == 503
        assert behind.json()["status"] == "not_ready" and behind.json()["schema"].startswith("at 0001")
        with stack.registry.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        assert (await raw.get("/readyz")).status_code == 200


def test_an_unreachable_ledger_is_not_ready(tmp_path: pytest.TempPathFactory) -> None:
    missing = create_engine(f"sqlite:///{tmp_path}/no/such/dir/ledger.sqlite3")
    result = ReadinessProbe(missing, all_closed([Channel.WECHAT])).check()
    assert not result.ready and result.database.startswith("unreachable")
    assert result.as_json()["status"] == "not_ready" and result.as_json()["channels"] == {"wechat": "closed"}
