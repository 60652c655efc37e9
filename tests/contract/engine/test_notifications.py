"""POST /notify/<channel>: size limit, verification, durable inbox, dedupe, apply, acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.store.models import InboxNotification, StatusEvent

from .conftest import CHANNELS, STORE, TERMINAL, Rig, event_states, native_req, new_trade_no, record_unapplied

PATHS = {Channel.WECHAT: "/notify/wechatpay", Channel.ALIPAY: "/notify/alipay"}


def count(rig: Rig, model: type) -> int:
    with Session(rig.ledger) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def inbox(rig: Rig) -> list[InboxNotification]:
    with Session(rig.ledger) as session:
        return list(session.exec(select(InboxNotification)).all())


async def paid_by_notification(rig: Rig, channel: Channel) -> tuple[str, dict[str, str], bytes]:
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    await rig.pay_qr(view.code_url or "")
    await rig.step()
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.PAID
    path, headers, body = rig.receiver.requests[-1]
    assert path == PATHS[channel]
    return view.out_trade_no, headers, body


@pytest.mark.parametrize("channel", CHANNELS)
async def test_verified_notification_is_recorded_then_acknowledged(rig: Rig, channel: Channel) -> None:
    otn, _headers, body = await paid_by_notification(rig, channel)
    rows = inbox(rig)
    assert len(rows) == 1
    row = rows[0]
    assert (row.channel, row.out_trade_no, row.kind) == (channel.value, otn, "payment")
    assert row.applied_at is not None and row.outcome == "PAID"
    assert row.body == body.decode()
    assert rig.receiver.answers[-1][1] in (200, 204)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_replayed_notification_changes_nothing(rig: Rig, channel: Channel) -> None:
    otn, headers, body = await paid_by_notification(rig, channel)
    events = count(rig, StatusEvent)
    ack = await rig.engine.notifications.handle_notification(channel, headers, body)
    assert 200 <= ack.status_code < 300
    assert count(rig, StatusEvent) == events
    assert len(inbox(rig)) == 1
    assert event_states(rig, otn).count("PAID") == 1


@pytest.mark.parametrize("channel", CHANNELS)
async def test_tampered_notification_is_refused_and_not_recorded(rig: Rig, channel: Channel) -> None:
    _otn, headers, body = await paid_by_notification(rig, channel)
    tampered = body.replace(b"2", b"3", 1)
    ack = await rig.engine.notifications.handle_notification(channel, headers, tampered)
    assert 400 <= ack.status_code < 600
    if channel == Channel.ALIPAY:
        assert ack.body != b"success"
    assert len(inbox(rig)) == 1


async def test_stale_wechat_notification_is_refused(rig: Rig) -> None:
    _otn, headers, body = await paid_by_notification(rig, Channel.WECHAT)
    rig.time.advance(301)
    ack = await rig.engine.notifications.handle_notification(Channel.WECHAT, headers, body)
    assert 400 <= ack.status_code < 600


@pytest.mark.parametrize("channel", CHANNELS)
async def test_oversized_body_is_refused_before_parsing(rig: Rig, channel: Channel) -> None:
    limit = rig.settings.engine.max_notify_body_bytes
    ack = await rig.engine.notifications.handle_notification(channel, {}, b"{" + b" " * limit + b"}")
    assert ack.status_code == 413
    assert inbox(rig) == []


@pytest.mark.parametrize("channel", CHANNELS)
async def test_authentic_notification_for_an_unknown_order_is_acknowledged(rig: Rig, channel: Channel) -> None:
    """An order made outside this engine (another till system on the same merchant): ack, log, keep."""
    otn = new_trade_no()
    order = await rig.providers[channel].create_native(
        out_trade_no=otn,
        amount_fen=100,
        subject="elsewhere",
        notify_url=rig.settings.engine.public_url + PATHS[channel],
        expires_at=rig.time() + timedelta(minutes=5),
    )
    await rig.pay_qr(order.code_url)
    await rig.step()
    assert rig.receiver.answers and 200 <= rig.receiver.answers[-1][1] < 300
    rows = inbox(rig)
    assert [(r.out_trade_no, r.outcome) for r in rows] == [(otn, "unknown-order")]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_recorded_but_unapplied_notification_is_applied_by_the_resolver(rig: Rig, channel: Channel) -> None:
    """The engine stopped between recording and applying: the inbox row is applied later."""
    await rig.fault(kind="notify_drop", gateway=channel.value, times=1)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    await rig.pay_qr(view.code_url or "")
    await rig.step()
    assert rig.receiver.requests == []
    # What the engine had recorded (verified, parsed) before it stopped: the gateway's own answer.
    truth = await rig.providers[channel].query(view.out_trade_no)
    from pos_app.engine.providers.base import Notification

    n = Notification(channel=channel, event_id="EV-test-1", kind="payment", out_trade_no=view.out_trade_no, trade=truth)
    record_unapplied(rig, n, b"{}", datetime.now(UTC) - timedelta(minutes=5))
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.AWAITING_SCAN
    await rig.engine.resolver.resolve_once()
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.PAID
    rows = inbox(rig)
    assert rows[0].applied_at is not None and rows[0].outcome == "PAID"
