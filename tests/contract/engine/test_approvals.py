"""Money going back needs more than a till's key: a manager the engine knows, daily refund limits, and a
refund refused for frequency is sent again by itself at the time the engine announces."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import Session

from pos_app.api.schemas import CreateRefund
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.approvals import ApprovalRefused, RefundLimitExceeded
from pos_app.engine.store import managers

from .conftest import APPROVAL, MANAGER, MANAGER_PIN, STORE, TERMINAL, Rig, attempts, micropay_req, new_trade_no


async def paid(rig: Rig, channel: Channel = Channel.ALIPAY, amount_fen: int = 1000, terminal: str = TERMINAL) -> str:
    code = await rig.authcode(channel.value)
    request = micropay_req(code, amount_fen, new_trade_no(terminal=terminal))
    view = await rig.engine.payments.create_payment(terminal, STORE, request)
    assert view.state == PaymentState.PAID
    return view.out_trade_no


def refund(amount_fen: int, **approval: str) -> CreateRefund:
    return CreateRefund(out_refund_no=new_trade_no("R"), amount_fen=amount_fen, operator="Ann", **approval)


def manager_row(rig: Rig) -> managers.Manager:
    with Session(rig.ledger) as session:
        row = managers.find_manager(session, STORE, MANAGER)
    assert row is not None
    return row


async def test_a_refund_without_an_approval_is_refused_before_any_gateway_call(rig: Rig) -> None:
    otn = await paid(rig)
    with pytest.raises(ApprovalRefused, match="^Refund needs a manager's approval"):
        await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100))
    for wrong in ({"approver": MANAGER, "approver_pin": "1234"}, {"approver": "Nobody", "approver_pin": MANAGER_PIN}):
        with pytest.raises(ApprovalRefused, match="did not accept"):
            await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100, **wrong))
    assert not attempts(rig, otn, "refund")
    done = await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100, **APPROVAL))
    assert done.state in (RefundState.SUCCESS, RefundState.PROCESSING)


async def test_a_manager_of_another_store_or_a_disabled_one_cannot_approve(rig: Rig) -> None:
    otn = await paid(rig)
    now = rig.time()
    with Session(rig.ledger) as session:
        managers.put_manager(session, store_id="S00002", name="Ola", pin_hash=managers.hash_pin("2468"), now=now)
        managers.disable_manager(session, store_id=STORE, name=MANAGER, now=now)
        session.commit()
    for approval in ({"approver": "Ola", "approver_pin": "2468"}, APPROVAL):
        with pytest.raises(ApprovalRefused, match="did not accept"):
            await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100, **approval))
    assert not attempts(rig, otn, "refund")


async def test_wrong_pins_lock_the_managers_approvals_for_a_growing_time(rig: Rig) -> None:
    otn = await paid(rig)
    wrong = {"approver": MANAGER, "approver_pin": "0000"}
    for _ in range(managers.FREE_FAILURES):
        with pytest.raises(ApprovalRefused, match="did not accept"):
            await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100, **wrong))
    locked_until = manager_row(rig).locked_until
    assert locked_until is not None and locked_until - rig.time() == managers.FIRST_LOCKOUT
    # Locked: even the right PIN is not checked, and the message says until when (Beijing time).
    with pytest.raises(ApprovalRefused, match=f"locked until {locked_until.astimezone(CHINA_TZ):%H:%M:%S}"):
        await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100, **APPROVAL))
    rig.time.advance(managers.FIRST_LOCKOUT.total_seconds())
    with pytest.raises(ApprovalRefused, match="did not accept"):  # one more wrong PIN: twice as long
        await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100, **wrong))
    again = manager_row(rig).locked_until
    assert again is not None and again - rig.time() == 2 * managers.FIRST_LOCKOUT
    rig.time.advance((2 * managers.FIRST_LOCKOUT).total_seconds())
    await rig.engine.refunds.create_refund(TERMINAL, otn, refund(100, **APPROVAL))
    assert (manager_row(rig).failed_attempts, manager_row(rig).locked_until) == (0, None)
    assert managers.lockout_for(100) == managers.MAX_LOCKOUT


async def test_daily_refund_limits_per_till_and_per_store(rig: Rig) -> None:
    rig.settings.engine.refund_limit_terminal_fen = 1500
    rig.settings.engine.refund_limit_store_fen = 2000
    first, second = await paid(rig), await paid(rig)
    await rig.engine.refunds.create_refund(TERMINAL, first, refund(1000, **APPROVAL))
    with pytest.raises(RefundLimitExceeded, match=r"^Today's refund limit for this till \(¥15\.00\) would be exceeded"):
        await rig.engine.refunds.create_refund(TERMINAL, second, refund(600, **APPROVAL))
    await rig.engine.refunds.create_refund(TERMINAL, second, refund(500, **APPROVAL))  # exactly at the limit
    other_till = await paid(rig, terminal="T002")
    with pytest.raises(RefundLimitExceeded, match=r"for this store \(¥20\.00\)"):
        await rig.engine.refunds.create_refund("T002", other_till, refund(600, **APPROVAL))
    assert not attempts(rig, other_till, "refund")
    # A new business day starts from nothing.
    rig.time.advance(timedelta(days=1).total_seconds())
    await rig.engine.refunds.create_refund("T002", other_till, refund(600, **APPROVAL))


async def test_a_refund_refused_for_frequency_says_when_it_is_sent_and_is_sent_then(rig: Rig) -> None:
    # Background settling is held until the till has asked twice (time only moves when it runs).
    released = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await released.wait()
        await rig.sleep(seconds)

    engine = rig.new_engine(sleep=sleep)
    otn = await paid(rig, Channel.WECHAT, 1000)
    first = await engine.refunds.create_refund(TERMINAL, otn, refund(100, **APPROVAL))
    assert first.state == RefundState.PROCESSING
    first_sent = attempts(rig, otn, "refund")[-1].at
    rig.time.advance(20)
    request = refund(200, **APPROVAL)
    second = await engine.refunds.create_refund(TERMINAL, otn, request)
    # WeChat Pay takes one refund per order per minute: not an unknown outcome, a time to send it at.
    assert second.state == RefundState.PENDING
    assert second.send_at == first_sent + timedelta(seconds=61)
    assert second.note == (
        "WeChat Pay takes one refund per order per minute — this refund is sent automatically at "
        f"{second.send_at.astimezone(CHINA_TZ):%H:%M:%S}; nothing to do."
    )
    # The till retrying meanwhile, or the resolver passing by, changes nothing and sends nothing.
    again = await engine.refunds.create_refund(TERMINAL, otn, request)
    assert (again.state, again.send_at) == (RefundState.PENDING, second.send_at)
    await engine.resolver.resolve_once()
    assert [a.outcome for a in attempts(rig, otn, "refund") if a.out_refund_no == second.out_refund_no] == ["retry"]
    # Nobody asks again: the engine sends it at that time by itself, and it ends SUCCESS.
    released.set()
    await engine.wait_idle()
    done = await engine.refunds.get_refund(TERMINAL, otn, second.out_refund_no)
    for _ in range(10):
        if done.state == RefundState.SUCCESS:
            break
        await rig.step(5)
        await engine.resolver.resolve_once()
        done = await engine.refunds.get_refund(TERMINAL, otn, second.out_refund_no)
    assert (done.state, done.send_at, done.note) == (RefundState.SUCCESS, None, None)
    sends = [a for a in attempts(rig, otn, "refund") if a.out_refund_no == second.out_refund_no]
    assert [a.outcome for a in sends] == ["retry", "processing"]
    assert sends[1].at >= second.send_at
    assert (await engine.payments.get_payment(TERMINAL, otn)).refunded_fen == 300
    await engine.aclose()
