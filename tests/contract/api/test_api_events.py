"""GET /v1/events over a real loopback socket (SSE needs streaming): resume after a reconnect, nothing
missed, nothing twice, only this terminal's events."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from api_support import STORE, TERMINAL, Stack, serve_on_loopback
from test_api_payments import native, wait_for

from pos_app.api.client import EngineClient
from pos_app.api.schemas import PaymentEvent
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.scope import Caller
from tests.link_proxy import LinkProxy


async def _collect(client: EngineClient, into: list[PaymentEvent], last: int = 0) -> None:
    async for event in client.events(last, reconnect_delay_s=0.05, max_reconnect_delay_s=0.2):
        into.append(event)


async def _until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_events_resume_after_the_link_drops(stack: Stack, client: EngineClient) -> None:
    seen: list[PaymentEvent] = []
    async with serve_on_loopback(stack.engine) as (url, _server):
        link = LinkProxy(int(url.rsplit(":", 1)[1]))
        await link.up()
        async with EngineClient(link.url, TERMINAL, client._key) as streaming:
            task = asyncio.create_task(_collect(streaming, seen))
            try:
                first = [await client.create_payment(native(Channel.WECHAT)) for _ in range(3)]
                await _until(lambda: {e.payment.out_trade_no for e in seen} >= {p.out_trade_no for p in first})

                # The link drops while payments keep happening (other tills, notifications).
                await link.down()
                while_down = [await client.create_payment(native(Channel.ALIPAY)) for _ in range(2)]
                await stack.pay_qr(while_down[0].code_url or "")
                await wait_for(client, while_down[0].out_trade_no, {PaymentState.PAID})
                await asyncio.sleep(0.3)  # the stream is retrying against a dead link
                await link.up()

                def got_all() -> bool:
                    paid = any(
                        e.payment.out_trade_no == while_down[0].out_trade_no and e.payment.state is PaymentState.PAID
                        for e in seen
                    )
                    return paid and {e.payment.out_trade_no for e in seen} >= {p.out_trade_no for p in while_down}

                await _until(got_all)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await link.down()
    ids = [e.event_id for e in seen]
    assert ids == sorted(set(ids)), "events arrive in order, each once"
    truth = await stack.engine.state.engine.use_cases.events.events_since(Caller(TERMINAL, STORE), 0, 1000)
    assert [e.event_id for e in truth][: len(ids)] == ids, "no event missed across the reconnect"


async def test_events_start_after_the_given_id_and_stay_per_terminal(stack: Stack, client: EngineClient) -> None:
    async with stack.client("T002") as other:
        await other.activate(stack.new_code(), STORE, "T002", "Till 2")
        theirs = make_trade_no(IdKind.PAYMENT, store=STORE, terminal="T002", seq=1, at=datetime.now())
        await other.create_payment(native(Channel.WECHAT).model_copy(update={"out_trade_no": theirs}))
    made = [await client.create_payment(native(Channel.WECHAT)) for _ in range(3)]
    service = stack.engine.state.engine.use_cases
    mine = await service.events.events_since(Caller(TERMINAL, STORE), 0, 100)
    assert {e.payment.out_trade_no for e in mine} == {p.out_trade_no for p in made}
    assert all(e.payment.terminal_id == TERMINAL for e in mine)
    seen: list[PaymentEvent] = []
    async with serve_on_loopback(stack.engine) as (url, _server), EngineClient(url, TERMINAL, client._key) as streaming:
        task = asyncio.create_task(_collect(streaming, seen, last=mine[0].event_id))
        try:
            await _until(lambda: len(seen) >= len(mine) - 1)
            await asyncio.sleep(0.3)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert [e.event_id for e in seen] == [e.event_id for e in mine[1:]]
