"""Micropay (the cashier scans the customer's payment code) against the sandbox, with its faults."""

from __future__ import annotations

import pytest

from pos_app.domain.errors import AuthCodeError
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.errors import IdempotencyConflict
from pos_app.sandbox.wallet import lookup_auth_code

from .conftest import (
    CHANNELS,
    STORE,
    TERMINAL,
    Rig,
    assert_matches_truth,
    attempts,
    event_states,
    micropay_req,
)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_password_free_code_is_paid_at_once(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code, 1234))
    assert view.state == PaymentState.PAID
    assert view.channel == channel
    assert view.transaction_id
    assert view.masked_auth_code == "*" * (len(code) - 4) + code[-4:]
    assert code not in view.model_dump_json()
    await assert_matches_truth(rig, channel, view.out_trade_no)
    assert [a.op for a in attempts(rig, view.out_trade_no)] == ["micropay"]
    assert event_states(rig, view.out_trade_no) == ["SUBMITTED", "PAID"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_not_enough_balance_fails_with_a_reason(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, balance_fen=100)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code, 5000))
    assert view.state == PaymentState.FAILED
    assert view.failure_reason
    await assert_matches_truth(rig, channel, view.out_trade_no)


async def test_bad_code_is_refused_before_any_network_call(rig: Rig) -> None:
    for bad in ("6212345678901234567", "12345", "abc"):
        with pytest.raises(AuthCodeError):
            await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(bad))
    assert await rig.engine.reports.unsettled() == []
    assert rig.receiver.answers == []


async def test_code_of_the_other_wallet_is_refused(rig: Rig) -> None:
    code = await rig.authcode("alipay")
    with pytest.raises(AuthCodeError, match="Alipay"):
        await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code, channel=Channel.WECHAT))


@pytest.mark.parametrize("channel", CHANNELS)
async def test_user_paying_then_success(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, password_seconds=12)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    assert view.state == PaymentState.USER_PAYING
    await rig.engine.wait_idle()
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.PAID
    assert rig.sleeps[:3] == [5.0, 5.0, 5.0]  # polled every 5 s, no faster
    assert len(attempts(rig, view.out_trade_no, "micropay")) == 1
    assert not attempts(rig, view.out_trade_no, "reverse")
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_user_paying_until_the_deadline_is_reversed(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, password_seconds=3600)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    assert view.state == PaymentState.USER_PAYING
    await rig.engine.wait_idle()
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.REVERSED
    deadline = 45 if channel == Channel.WECHAT else 60
    waited = sum(rig.sleeps)
    assert deadline <= waited < deadline + 5
    queries = attempts(rig, view.out_trade_no, "query")
    assert len(queries) >= deadline // 5
    assert attempts(rig, view.out_trade_no, "reverse")[-1].outcome == "done"
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_customer_cancels_at_the_password(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, password_seconds=8, user_cancels=True)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    await rig.engine.wait_idle()
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == {Channel.WECHAT: PaymentState.FAILED, Channel.ALIPAY: PaymentState.CLOSED}[channel]
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_reply_lost_after_commit_is_settled_by_query_not_by_resending(rig: Rig, channel: Channel) -> None:
    op = "codepay" if channel == Channel.WECHAT else "alipay.trade.pay"
    await rig.fault(kind="reply_lost", gateway=channel.value, operation=op, times=1)
    code = await rig.authcode(channel.value)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    assert view.state == PaymentState.UNKNOWN
    await rig.engine.wait_idle()
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.PAID
    assert len(attempts(rig, view.out_trade_no, "micropay")) == 1  # the code was sent once
    scenario = lookup_auth_code(rig.ctx.store, code)
    assert scenario is not None and scenario.used_by == view.out_trade_no
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_server_error_on_submit_ends_without_a_charge(rig: Rig, channel: Channel) -> None:
    op = "codepay" if channel == Channel.WECHAT else "alipay.trade.pay"
    await rig.fault(kind="server_error", gateway=channel.value, operation=op, status=500, times=1)
    code = await rig.authcode(channel.value)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    assert view.state == PaymentState.UNKNOWN
    await rig.engine.wait_idle()
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == {Channel.WECHAT: PaymentState.FAILED, Channel.ALIPAY: PaymentState.REVERSED}[channel]
    assert len(attempts(rig, view.out_trade_no, "micropay")) == 1
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_server_errors_on_queries_then_the_answer(rig: Rig, channel: Channel) -> None:
    query_op = "query" if channel == Channel.WECHAT else "alipay.trade.query"
    await rig.fault(kind="server_error", gateway=channel.value, operation=query_op, status=500, times=3)
    code = await rig.authcode(channel.value, password_seconds=7)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    assert view.state == PaymentState.USER_PAYING
    await rig.engine.wait_idle()
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.PAID
    outcomes = [a.outcome for a in attempts(rig, view.out_trade_no, "query")]
    assert outcomes[:3] == ["unknown"] * 3
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_same_request_again_returns_the_payment_and_never_resends_the_code(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, password_seconds=12)
    req = micropay_req(code)
    first = await rig.engine.payments.create_payment(TERMINAL, STORE, req)
    again = await rig.engine.payments.create_payment(TERMINAL, STORE, req)
    assert again.out_trade_no == first.out_trade_no and again.created_at == first.created_at
    await rig.engine.wait_idle()
    assert (await rig.engine.payments.create_payment(TERMINAL, STORE, req)).state == PaymentState.PAID
    assert len(attempts(rig, req.out_trade_no, "micropay")) == 1
    with pytest.raises(IdempotencyConflict):
        await rig.engine.payments.create_payment(
            TERMINAL, STORE, micropay_req(code, req.amount_fen + 1, req.out_trade_no)
        )
    other_code = await rig.authcode(channel.value)
    with pytest.raises(IdempotencyConflict):
        await rig.engine.payments.create_payment(
            TERMINAL, STORE, micropay_req(other_code, req.amount_fen, req.out_trade_no)
        )


async def test_concurrent_identical_requests_send_the_code_once(rig: Rig) -> None:
    import asyncio

    code = await rig.authcode("alipay")
    req = micropay_req(code)
    views = await asyncio.gather(*(rig.engine.payments.create_payment(TERMINAL, STORE, req) for _ in range(5)))
    assert {v.out_trade_no for v in views} == {req.out_trade_no}
    await rig.engine.wait_idle()
    assert len(attempts(rig, req.out_trade_no, "micropay")) == 1
    assert (await rig.engine.payments.get_payment(TERMINAL, req.out_trade_no)).state == PaymentState.PAID


@pytest.mark.parametrize("channel", CHANNELS)
async def test_logs_never_hold_the_full_payment_code(
    rig: Rig, channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    code = await rig.authcode(channel.value, password_seconds=3600)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    await rig.engine.wait_idle()
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.REVERSED
    assert any(code[-4:] in r.getMessage() for r in caplog.records)  # the masked form is logged
    for record in caplog.records:
        assert code not in record.getMessage()
        assert code not in str(record.__dict__)
