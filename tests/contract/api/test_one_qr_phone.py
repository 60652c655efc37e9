"""The whole loop over real loopback sockets: the engine and the sandbox served by uvicorn on the
profile's own ports, the till's client creating the payments, and the sandbox's simulated phone
(``pos_app.sandbox.phone.scan``, written on its own from the specs) following the pages to the end."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from api_support import STORE, TERMINAL, Stack

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment, PaymentView
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.sandbox.phone.scan import scan

_seq = itertools.count(900)


@contextlib.asynccontextmanager
async def serve(app: Any, url: str) -> AsyncIterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=urlsplit(url).port or 80, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=5)


@contextlib.asynccontextmanager
async def on_loopback(stack: Stack) -> AsyncIterator[None]:
    async with (
        serve(stack.engine, stack.settings.engine.public_url),
        serve(stack.sandbox, stack.settings.wechatpay.oauth_url),
    ):
        yield


async def one_qr(client: EngineClient, amount_fen: int) -> PaymentView:
    otn = make_trade_no(IdKind.PAYMENT, store=STORE, terminal=TERMINAL, seq=next(_seq), at=datetime.now())
    view = await client.create_payment(
        CreatePayment(
            out_trade_no=otn, amount_fen=amount_fen, mode=PaymentMode.ONE_QR, subject="Noodles", operator="al"
        )
    )
    assert view.code_url is not None
    return view


async def wait_for(client: EngineClient, otn: str, state: PaymentState, timeout: float = 20) -> PaymentView:
    deadline = asyncio.get_running_loop().time() + timeout
    while (view := await client.get_payment(otn)).state is not state:
        assert asyncio.get_running_loop().time() < deadline, f"{otn} still {view.state}, wanted {state}"
        await asyncio.sleep(0.1)
    return view


async def test_the_phone_pays_one_qr_in_each_wallet(stack: Stack, client: EngineClient) -> None:
    async with on_loopback(stack):
        for app, channel in (("wechat", Channel.WECHAT), ("alipay", Channel.ALIPAY)):
            view = await one_qr(client, 2300)
            assert view.code_url is not None
            outcome = await scan(view.code_url, app=app)  # type: ignore[arg-type]
            assert outcome.error is None, outcome.steps
            assert outcome.result is not None and outcome.result["state"] == "PAID"
            paid = await wait_for(client, view.out_trade_no, PaymentState.PAID)
            assert paid.channel is channel


async def test_cancel_and_failure_on_the_phone_leave_the_order_unpaid(stack: Stack, client: EngineClient) -> None:
    async with on_loopback(stack):
        for app, choice in (("wechat", "cancel"), ("alipay", "fail")):
            view = await one_qr(client, 800)
            assert view.code_url is not None
            outcome = await scan(view.code_url, app=app, choice=choice)  # type: ignore[arg-type]
            assert outcome.result is not None and outcome.result["state"] == "AWAITING_SCAN", outcome.steps
            assert (await client.get_payment(view.out_trade_no)).state is PaymentState.AWAITING_SCAN


async def test_a_refused_oauth_code_signs_in_once_more(stack: Stack, client: EngineClient) -> None:
    async with on_loopback(stack):
        view = await one_qr(client, 1200)
        assert view.code_url is not None
        outcome = await scan(view.code_url, app="wechat", oauth_error=40029)
        assert outcome.result is not None and outcome.result["state"] == "PAID", outcome.steps


async def test_the_store_code_paid_twice_with_different_amounts(stack: Stack, client: EngineClient) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    code = await client.store_code()
    async with on_loopback(stack):
        for app, fen in (("wechat", 2300), ("alipay", 450)):
            outcome = await scan(code.url, app=app, amount_fen=fen)  # type: ignore[arg-type]
            assert outcome.result is not None and outcome.result["state"] == "PAID", outcome.steps
    payments = await client.store_payments(since)
    assert [(p.amount_fen, p.channel, p.state) for p in payments] == [
        (2300, Channel.WECHAT, PaymentState.PAID),
        (450, Channel.ALIPAY, PaymentState.PAID),
    ]


async def test_a_browser_is_told_to_open_it_in_a_wallet(stack: Stack, client: EngineClient) -> None:
    async with on_loopback(stack):
        view = await one_qr(client, 990)
        assert view.code_url is not None
        outcome = await scan(view.code_url, app="browser")
    assert outcome.final_status == 200 and outcome.bridge is None
    assert (await client.get_payment(view.out_trade_no)).channel is None
