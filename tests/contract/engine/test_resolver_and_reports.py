"""The resolver (settles every unsettled payment, after restarts), attention flags, reports, events."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from pos_app.api.schemas import CreateRefund
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.breakers import BreakerPolicy
from pos_app.engine.scope import Caller, ReadScope

from .conftest import (
    APPROVAL,
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

ME = Caller(TERMINAL, STORE)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_restart_mid_micropay_is_settled_by_the_next_process(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, password_seconds=3600)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    assert view.state == PaymentState.USER_PAYING
    await rig.engine.aclose()  # the engine process dies; its settling task with it

    restarted = rig.new_engine()
    rig.receiver.notifications = restarted.notifications
    assert await restarted.resolver.resolve_once() == 0  # before the deadline: query only, and the lease is held
    rig.time.advance(61 + 30)  # past the deadline and the dead process's lease
    await rig.ctx.step()
    for _ in range(5):
        if await restarted.resolver.resolve_once():
            break
    final = await restarted.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.REVERSED
    assert len(attempts(rig, view.out_trade_no, "micropay")) == 1
    await assert_matches_truth(rig, channel, view.out_trade_no)
    await restarted.aclose()


@pytest.mark.parametrize("channel", CHANNELS)
async def test_restart_mid_micropay_that_was_paid(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, password_seconds=20)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    await rig.engine.aclose()
    restarted = rig.new_engine()
    rig.time.advance(21)
    await rig.ctx.step()
    rig.time.advance(91)  # the lease of the dead process ran out
    assert await restarted.resolver.resolve_once() == 1
    assert (await restarted.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.PAID
    await assert_matches_truth(rig, channel, view.out_trade_no)


async def test_unanswered_checks_flag_the_payment_for_a_person(rig: Rig) -> None:
    # About attention flags: the Alipay breaker (test_breakers) must not open on these six failures.
    service = rig.new_engine(attention_after=3, breaker=BreakerPolicy(failures=100))
    rig.receiver.notifications = service.notifications
    await rig.fault(kind="server_error", gateway="alipay", operation="alipay.trade.query", status=500)
    await rig.fault(kind="server_error", gateway="alipay", operation="alipay.trade.close", status=500)
    view = await service.payments.create_payment(TERMINAL, STORE, native_req(Channel.ALIPAY))
    rig.time.advance(301)
    for _ in range(3):
        await service.resolver.resolve_once()
    flagged = await service.payments.get_payment(TERMINAL, view.out_trade_no)
    assert flagged.state == PaymentState.AWAITING_SCAN and flagged.needs_attention
    assert [p.out_trade_no for p in await service.reports.unsettled()] == [view.out_trade_no]
    report = await service.reports.daily_report(
        date.fromisoformat(service.context.business_day(flagged.created_at)), ReadScope(STORE, TERMINAL)
    )
    assert [p.out_trade_no for p in report.unsettled] == [view.out_trade_no]
    await rig.clear_faults()
    await service.resolver.resolve_once()
    settled = await service.payments.get_payment(TERMINAL, view.out_trade_no)
    assert settled.state == PaymentState.CLOSED and not settled.needs_attention
    assert await service.reports.unsettled() == []
    await service.aclose()


async def test_run_resolver_loops_until_stopped(rig: Rig) -> None:
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.ALIPAY))
    rig.time.advance(301)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.engine.resolver.run(stop))
    for _ in range(200):
        if (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.CLOSED:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.CLOSED


async def test_daily_report_totals_by_channel(rig: Rig) -> None:
    paid = []
    for channel, amount in ((Channel.WECHAT, 1000), (Channel.ALIPAY, 250), (Channel.ALIPAY, 750)):
        code = await rig.authcode(channel.value)
        paid.append(await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code, amount)))
    other_till = await rig.authcode("alipay")
    await rig.engine.payments.create_payment("T002", STORE, micropay_req(other_till, 5, new_trade_no(terminal="T002")))
    failed_code = await rig.authcode("alipay", balance_fen=1)
    await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(failed_code, 999))
    refund = CreateRefund(out_refund_no="R" + paid[1].out_trade_no[1:], amount_fen=50, operator="mgr", **APPROVAL)
    await rig.engine.refunds.create_refund(TERMINAL, paid[1].out_trade_no, refund)
    for _ in range(5):
        await rig.step(5)
        await rig.engine.resolver.resolve_once()
    await rig.engine.wait_idle()
    day = date.fromisoformat(rig.engine.context.business_day(paid[0].created_at))
    report = await rig.engine.reports.daily_report(day, ReadScope(STORE, TERMINAL))
    totals = {t.channel: (t.count, t.amount_fen, t.refunded_fen) for t in report.totals}
    assert totals == {Channel.WECHAT: (1, 1000, 0), Channel.ALIPAY: (2, 1000, 50)}
    assert report.unsettled == []
    store = await rig.engine.reports.daily_report(day, ReadScope(STORE, None))
    assert {t.channel: t.count for t in store.totals}[Channel.ALIPAY] == 3


async def test_events_resume_from_the_last_id_and_wake_waiters(rig: Rig) -> None:
    assert await rig.engine.events.events_since(ME, 0) == []
    waiter = asyncio.create_task(rig.engine.events.wait_for_events(ME, 0, timeout=10))
    await asyncio.sleep(0.05)
    code = await rig.authcode("alipay")
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    woken = await asyncio.wait_for(waiter, 5)
    assert woken and woken[0].payment.out_trade_no == view.out_trade_no
    events = await rig.engine.events.events_since(ME, 0)
    assert [e.payment.state for e in events] == [PaymentState.SUBMITTED, PaymentState.PAID]
    assert events[0].event_id < events[1].event_id
    assert await rig.engine.events.events_since(ME, events[0].event_id) == events[1:]
    assert await rig.engine.events.events_since(Caller("T999", STORE), 0) == []
    # A second process on the same ledger sees the same durable events (SSE reconnects anywhere).
    other = rig.new_engine()
    assert await other.events.events_since(ME, 0) == events
    assert await other.events.wait_for_events(ME, events[-1].event_id, timeout=0.1) == []
