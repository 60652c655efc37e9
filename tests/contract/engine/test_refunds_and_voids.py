"""Refunds (partial, repeated, idempotent) and same-day voids against the sandbox."""

from __future__ import annotations

import asyncio

import pytest

from pos_app.api.schemas import CancelPayment, CreateRefund
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.errors import (
    IdempotencyConflict,
    PaymentStateError,
    RefundAmountError,
    RefundNotFound,
)

from .conftest import (
    CHANNELS,
    STORE,
    TERMINAL,
    Rig,
    assert_matches_truth,
    attempts,
    micropay_req,
    native_req,
    new_trade_no,
)


def refund_req(amount_fen: int, orn: str | None = None) -> CreateRefund:
    return CreateRefund(
        out_refund_no=orn or new_trade_no("R"), amount_fen=amount_fen, reason="returned", operator="mgr"
    )


async def paid_payment(rig: Rig, channel: Channel, amount_fen: int = 1000) -> str:
    code = await rig.authcode(channel.value)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code, amount_fen))
    assert view.state == PaymentState.PAID
    return view.out_trade_no


async def settle_refund(rig: Rig, otn: str, orn: str) -> RefundState:
    # The refund's own background task settles it first (the resolver leaves it alone meanwhile):
    # without waiting for it, the loop below could run out while that task is between two calls.
    await rig.engine.wait_idle()
    for _ in range(20):
        view = await rig.engine.refunds.get_refund(TERMINAL, otn, orn)
        if view.state in (RefundState.SUCCESS, RefundState.FAILED):
            return view.state
        await rig.step(5)
        await rig.engine.resolver.resolve_once()
    return (await rig.engine.refunds.get_refund(TERMINAL, otn, orn)).state


@pytest.mark.parametrize("channel", CHANNELS)
async def test_partial_refunds_add_up_and_are_capped(rig: Rig, channel: Channel) -> None:
    otn = await paid_payment(rig, channel, 1000)
    first = await rig.engine.refunds.create_refund(TERMINAL, otn, refund_req(300))
    assert await settle_refund(rig, otn, first.out_refund_no) == RefundState.SUCCESS
    await rig.engine.wait_idle()
    view = await rig.engine.payments.get_payment(TERMINAL, otn)
    assert (view.state, view.refunded_fen) == (PaymentState.PARTIALLY_REFUNDED, 300)
    with pytest.raises(RefundAmountError, match=r"¥7\.00 left"):
        await rig.engine.refunds.create_refund(TERMINAL, otn, refund_req(701))
    second = await rig.engine.refunds.create_refund(TERMINAL, otn, refund_req(700))
    assert await settle_refund(rig, otn, second.out_refund_no) == RefundState.SUCCESS
    await rig.engine.wait_idle()
    view = await rig.engine.payments.get_payment(TERMINAL, otn)
    assert (view.state, view.refunded_fen) == (PaymentState.REFUNDED, 1000)
    with pytest.raises(PaymentStateError):
        await rig.engine.refunds.create_refund(TERMINAL, otn, refund_req(1))
    truth = await rig.truth(channel, otn)
    # WeChat's order says REFUND (paid; its refunds say how much); Alipay closes a fully refunded trade.
    assert truth.state == {Channel.WECHAT: PaymentState.PAID, Channel.ALIPAY: PaymentState.CLOSED}[channel]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_same_refund_number_is_the_same_refund(rig: Rig, channel: Channel) -> None:
    otn = await paid_payment(rig, channel, 1000)
    req = refund_req(400)
    views = await asyncio.gather(*(rig.engine.refunds.create_refund(TERMINAL, otn, req) for _ in range(3)))
    assert {v.out_refund_no for v in views} == {req.out_refund_no}
    assert await settle_refund(rig, otn, req.out_refund_no) == RefundState.SUCCESS
    again = await rig.engine.refunds.create_refund(TERMINAL, otn, req)
    assert again.state == RefundState.SUCCESS
    await rig.engine.wait_idle()
    assert (await rig.engine.payments.get_payment(TERMINAL, otn)).refunded_fen == 400
    with pytest.raises(IdempotencyConflict):
        await rig.engine.refunds.create_refund(TERMINAL, otn, refund_req(401, req.out_refund_no))
    refund_calls = attempts(rig, otn, "refund")
    assert 1 <= len(refund_calls) <= 3  # sent again only while its answer was unknown/pending
    truth = await rig.providers[channel].refund_query(out_trade_no=otn, out_refund_no=req.out_refund_no)
    assert truth.state == RefundState.SUCCESS and truth.amount_fen == 400


@pytest.mark.parametrize("channel", CHANNELS)
async def test_refund_with_a_lost_reply_is_settled_once(rig: Rig, channel: Channel) -> None:
    otn = await paid_payment(rig, channel, 1000)
    op = "refund" if channel == Channel.WECHAT else "alipay.trade.refund"
    await rig.fault(kind="server_error", gateway=channel.value, operation=op, status=500, times=1)
    req = refund_req(250)
    first = await rig.engine.refunds.create_refund(TERMINAL, otn, req)
    assert first.state == RefundState.UNKNOWN  # the 500 left the outcome unknown
    assert await settle_refund(rig, otn, req.out_refund_no) == RefundState.SUCCESS
    await rig.engine.wait_idle()
    assert (await rig.engine.payments.get_payment(TERMINAL, otn)).refunded_fen == 250
    truth = await rig.providers[channel].refund_query(out_trade_no=otn, out_refund_no=req.out_refund_no)
    assert truth.state == RefundState.SUCCESS


async def test_refund_of_an_unpaid_payment_is_refused(rig: Rig) -> None:
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.ALIPAY))
    with pytest.raises(PaymentStateError):
        await rig.engine.refunds.create_refund(TERMINAL, view.out_trade_no, refund_req(1))
    with pytest.raises(RefundNotFound):
        await rig.engine.refunds.get_refund(TERMINAL, view.out_trade_no, "RNOSUCHREFUND")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_same_day_void_returns_the_money(rig: Rig, channel: Channel) -> None:
    otn = await paid_payment(rig, channel, 880)
    voided = await rig.engine.payments.cancel_payment(TERMINAL, otn, CancelPayment(operator="mgr", reason="wrong item"))
    assert voided.state == PaymentState.REVERSED
    assert (await rig.engine.payments.cancel_payment(TERMINAL, otn, CancelPayment(operator="mgr"))).state == (
        PaymentState.REVERSED
    )
    await assert_matches_truth(rig, channel, otn)


async def test_void_of_yesterdays_payment_is_refused(rig: Rig) -> None:
    otn = await paid_payment(rig, Channel.ALIPAY)
    rig.time.advance(86_400)
    with pytest.raises(PaymentStateError, match="refund"):
        await rig.engine.payments.cancel_payment(TERMINAL, otn, CancelPayment(operator="mgr"))


async def test_void_after_a_refund_is_refused(rig: Rig) -> None:
    otn = await paid_payment(rig, Channel.ALIPAY, 1000)
    await rig.engine.refunds.create_refund(TERMINAL, otn, refund_req(100))
    with pytest.raises(PaymentStateError):
        await rig.engine.payments.cancel_payment(TERMINAL, otn, CancelPayment(operator="mgr"))


@pytest.mark.parametrize("channel", CHANNELS)
async def test_cancel_of_a_micropay_in_flight_reverses_it(rig: Rig, channel: Channel) -> None:
    # The cashier cancels while the micropay driver sleeps between two polls (as it does nearly all
    # the time): the driver is held in that sleep until the cancel has answered, so no poll of the
    # cancelled trade (Alipay: TRADE_CLOSED) can race the cancel's own answer.
    cashier = asyncio.current_task()
    driver_parked, cancel_answered = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        if asyncio.current_task() is not cashier and not cancel_answered.is_set():
            driver_parked.set()
            await cancel_answered.wait()
        await rig.sleep(seconds)

    engine = rig.new_engine(sleep=sleep)
    code = await rig.authcode(channel.value, password_seconds=3600)
    view = await engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    assert view.state == PaymentState.USER_PAYING
    await driver_parked.wait()
    cancelled = await engine.payments.cancel_payment(TERMINAL, view.out_trade_no, CancelPayment(operator="alice"))
    cancel_answered.set()
    # WeChat refuses a reverse for 15 s after the pay call (USERPAYING): the driver reverses it later.
    answered = {Channel.WECHAT: PaymentState.USER_PAYING, Channel.ALIPAY: PaymentState.REVERSED}[channel]
    assert cancelled.state == answered
    await engine.wait_idle()
    final = await engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.REVERSED, cancelled
    await assert_matches_truth(rig, channel, view.out_trade_no)


async def test_refund_the_gateway_never_confirms_flags_its_payment(rig: Rig) -> None:
    service = rig.new_engine(attention_after=3)
    code = await rig.authcode("alipay")
    view = await service.payments.create_payment(TERMINAL, STORE, micropay_req(code, 1000))
    for op in ("alipay.trade.refund", "alipay.trade.fastpay.refund.query"):
        await rig.fault(kind="server_error", gateway="alipay", operation=op, status=500)
    req = refund_req(400)
    assert (await service.refunds.create_refund(TERMINAL, view.out_trade_no, req)).state == RefundState.UNKNOWN
    await service.wait_idle()
    flagged = await service.payments.get_payment(TERMINAL, view.out_trade_no)
    assert flagged.needs_attention and flagged.refunded_fen == 0
    assert [p.out_trade_no for p in await service.reports.unsettled()] == [view.out_trade_no]
    await rig.clear_faults()
    await service.resolver.resolve_once()
    await service.resolver.resolve_once()
    assert (
        await service.refunds.get_refund(TERMINAL, view.out_trade_no, req.out_refund_no)
    ).state == RefundState.SUCCESS
    settled = await service.payments.get_payment(TERMINAL, view.out_trade_no)
    assert (settled.refunded_fen, settled.needs_attention) == (400, False)
    assert await service.reports.unsettled() == []
    await service.aclose()
