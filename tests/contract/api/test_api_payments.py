"""Payments through the terminal's client -> engine app -> providers -> sandbox gateways (all in-process)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import httpx
import pytest
from api_support import ENGINE_URL, STORE, TERMINAL, Stack

from pos_app.api.client import EngineClient, PaymentNotFound
from pos_app.api.schemas import CancelPayment, CreatePayment, CreateRefund, PaymentView
from pos_app.domain.errors import AuthCodeError, AuthorisationError, InputError
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState

_seq = itertools.count(1)


def trade_no(kind: IdKind = IdKind.PAYMENT) -> str:
    return make_trade_no(kind, store=STORE, terminal=TERMINAL, seq=next(_seq), at=datetime.now())


def native(channel: Channel, amount_fen: int = 1230) -> CreatePayment:
    return CreatePayment(
        out_trade_no=trade_no(), amount_fen=amount_fen, mode=PaymentMode.NATIVE, channel=channel,
        subject="Coffee", operator="alice",
    )  # fmt: skip


def micropay(auth_code: str, amount_fen: int = 880) -> CreatePayment:
    return CreatePayment(
        out_trade_no=trade_no(), amount_fen=amount_fen, mode=PaymentMode.MICROPAY, auth_code=auth_code,
        subject="Tea", operator="alice",
    )  # fmt: skip


async def wait_for(
    client: EngineClient, out_trade_no: str, states: set[PaymentState], timeout: float = 20
) -> PaymentView:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = await client.get_payment(out_trade_no)
        if view.state in states:
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{out_trade_no} still {view.state} after {timeout}s, wanted {states}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("channel", [Channel.WECHAT, Channel.ALIPAY])
async def test_native_payment_is_paid_after_the_customer_scans(
    stack: Stack, client: EngineClient, channel: Channel
) -> None:
    request = native(channel)
    view = await client.create_payment(request)
    assert view.state is PaymentState.AWAITING_SCAN
    assert view.code_url and view.channel is channel and view.amount_fen == 1230
    assert view.terminal_id == TERMINAL
    assert (await client.create_payment(request)).code_url == view.code_url  # a retry is the same order
    outcome = await stack.pay_qr(view.code_url)
    assert outcome["ok"] is True
    paid = await wait_for(client, request.out_trade_no, {PaymentState.PAID})
    assert paid.transaction_id and paid.paid_at is not None


@pytest.mark.parametrize("channel", ["wechat", "alipay"])
async def test_micropay_without_password_is_paid_at_once(stack: Stack, client: EngineClient, channel: str) -> None:
    code = await stack.auth_code(channel)
    view = await client.create_payment(micropay(code))
    assert view.channel.value == channel
    assert view.state is PaymentState.PAID
    assert view.masked_auth_code and view.masked_auth_code.endswith(code[-4:]) and code not in view.masked_auth_code


async def test_micropay_with_a_password_ends_paid(stack: Stack, client: EngineClient) -> None:
    code = await stack.auth_code("wechat", password_seconds=1.5)
    request = micropay(code)
    view = await client.create_payment(request)
    assert view.state is PaymentState.USER_PAYING  # the gateway answered USERPAYING; the driver takes over
    paid = await wait_for(client, request.out_trade_no, {PaymentState.PAID}, timeout=30)
    assert paid.amount_fen == 880


async def test_insufficient_balance_fails_with_a_reason(stack: Stack, client: EngineClient) -> None:
    code = await stack.auth_code("alipay", balance_fen=100)
    view = await client.create_payment(micropay(code, amount_fen=5000))
    assert view.state is PaymentState.FAILED
    assert view.failure_reason


async def test_a_code_that_is_no_payment_code_is_refused_before_any_gateway_call(client: EngineClient) -> None:
    with pytest.raises(AuthCodeError) as info:
        await client.create_payment(micropay("123456789012"))
    assert "payment code" in info.value.message
    with pytest.raises(PaymentNotFound):
        await client.get_payment(trade_no())


async def test_cancel_closes_an_unpaid_native_order(stack: Stack, client: EngineClient) -> None:
    request = native(Channel.WECHAT)
    await client.create_payment(request)
    view = await client.cancel_payment(request.out_trade_no, CancelPayment(operator="alice", reason="changed mind"))
    assert view.state is PaymentState.CLOSED  # a native order is closed, never reversed
    assert (await client.get_payment(request.out_trade_no)).state == view.state


async def test_refund_of_a_paid_payment(stack: Stack, client: EngineClient) -> None:
    code = await stack.auth_code("wechat")
    request = micropay(code, amount_fen=2000)
    assert (await client.create_payment(request)).state is PaymentState.PAID
    fields = {"out_refund_no": trade_no(IdKind.REFUND), "amount_fen": 500, "reason": "broken cup", "operator": "bob"}
    # The till's key alone moves no money back: the sandbox profile's engine knows the demo manager.
    with pytest.raises(AuthorisationError, match="^Refund needs a manager's approval"):
        await client.create_refund(request.out_trade_no, CreateRefund(**fields))
    approved = CreateRefund(**fields, approver="Demo Manager", approver_pin="9999")
    refund = await client.create_refund(request.out_trade_no, approved)
    assert refund.out_trade_no == request.out_trade_no and refund.amount_fen == 500
    assert refund.state is RefundState.PROCESSING
    again = await client.get_refund(request.out_trade_no, refund.out_refund_no)
    assert again.out_refund_no == refund.out_refund_no


async def test_validation_errors_are_error_bodies(stack: Stack, client: EngineClient) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        response = await raw.post(
            "/v1/payments",
            json={"out_trade_no": "x", "amount_fen": -1, "mode": "native", "subject": "s", "operator": "o"},
            auth=client._auth(),
        )
        assert response.status_code == 422
        body = response.json()
        assert set(body) == {"code", "message"} and body["code"] == "invalid_request"
        missing = await raw.get("/v1/nothing-here")
        assert missing.status_code == 404 and set(missing.json()) == {"code", "message"}
    with pytest.raises(InputError):
        await client.get_payment("bad!")  # fails the path pattern


async def test_an_amount_must_be_a_json_integer(stack: Stack, client: EngineClient) -> None:
    """ "100", 1.0 and true are refused (422), not coerced to 100 or 1 fen: nothing is created."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        for amount in ("100", 1.0, True):
            number = trade_no()
            body = {"out_trade_no": number, "amount_fen": amount, "mode": "native", "channel": "wechat",
                    "subject": "s", "operator": "o"}  # fmt: skip
            response = await raw.post("/v1/payments", json=body, auth=client._auth())
            assert response.status_code == 422, amount
            assert "amount_fen" in response.json()["message"]
            with pytest.raises(PaymentNotFound):
                await client.get_payment(number)


async def test_daily_report_counts_the_paid_payment(stack: Stack, client: EngineClient) -> None:
    code = await stack.auth_code("alipay")
    assert (await client.create_payment(micropay(code, amount_fen=1500))).state is PaymentState.PAID
    report = await client.daily_report()
    totals = {t.channel: t for t in report.totals}
    assert totals[Channel.ALIPAY].count == 1 and totals[Channel.ALIPAY].amount_fen == 1500
    assert report.terminal_id == TERMINAL


async def test_healthz_and_metrics(stack: Stack, client: EngineClient) -> None:
    assert await client.healthz()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        await client.sync_batch([])
        text = (await raw.get("/metrics")).text
    assert 'pos_engine_requests_total{method="POST",route="/v1/sync/batches",status="200"}' in text
    assert "pos_engine_unsettled_payments" in text
    async with EngineClient("http://127.0.0.1:9", TERMINAL, None) as dead:
        assert not await dead.healthz()
