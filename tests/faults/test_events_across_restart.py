"""The engine's event stream across an engine SIGKILL and restart: the terminal's subscription
reconnects with Last-Event-ID and receives every payment change exactly once, in order.

Real processes: `pos sandbox serve` and `pos engine serve` from a demo profile; the terminal side is
EngineClient.events() in this process.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment, PaymentEvent
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState
from tests.faults.support import Stack

pytestmark = pytest.mark.slow


async def _pay(stack: Stack, client: EngineClient, seq: int) -> str:
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=10) as sandbox:
        answer = await sandbox.post("/sandbox/authcodes", json={"channel": "wechat"})
    number = make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=seq, at=datetime.now())
    request = CreatePayment(
        out_trade_no=number, amount_fen=100 + seq, mode=PaymentMode.MICROPAY,
        auth_code=answer.json()["auth_code"], subject="events", operator="alice",
    )  # fmt: skip
    view = await client.create_payment(request)
    assert view.state is PaymentState.PAID, view
    return number


async def _collect(client: EngineClient, into: list[PaymentEvent]) -> None:
    async for event in client.events(0, reconnect_delay_s=0.2, max_reconnect_delay_s=1.0):
        into.append(event)


async def _until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)


def _paid(events: list[PaymentEvent]) -> set[str]:
    return {e.payment.out_trade_no for e in events if e.payment.state is PaymentState.PAID}


def test_event_stream_resumes_across_an_engine_restart(tmp_path: Path) -> None:
    stack = Stack.create(tmp_path / "home")
    try:
        stack.start("sandbox")
        stack.start("engine")
        stack.activate_terminal()
        asyncio.run(_scenario(stack))
    finally:
        stack.stop_all()


async def _scenario(stack: Stack) -> None:
    seen: list[PaymentEvent] = []
    async with stack.client() as client:
        follower = asyncio.create_task(_collect(client, seen))
        before = [await _pay(stack, client, seq) for seq in range(1, 4)]
        await _until(
            lambda: {e.payment.out_trade_no for e in seen if e.payment.state is PaymentState.PAID} >= set(before)
        )

        stack.kill("engine")  # the stream breaks mid-subscription; nothing runs on shutdown
        await asyncio.sleep(1.0)
        stack.start("engine")
        after = [await _pay(stack, client, seq) for seq in range(4, 7)]
        await _until(
            lambda: {e.payment.out_trade_no for e in seen if e.payment.state is PaymentState.PAID} >= set(after)
        )
        follower.cancel()

        # Everything the engine holds for this terminal, read afresh from the start.
        fresh: list[PaymentEvent] = []
        reader = asyncio.create_task(_collect(client, fresh))
        await _until(lambda: len(fresh) >= len(seen))
        await asyncio.sleep(0.5)
        reader.cancel()
    ids = [e.event_id for e in seen]
    assert ids == sorted(set(ids)), "events repeated or out of order across the restart"
    assert ids == [e.event_id for e in fresh], "an event was missed across the restart"
    paid = [e.payment.out_trade_no for e in seen if e.payment.state is PaymentState.PAID]
    assert paid == before + after
