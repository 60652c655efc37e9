"""Notifications arriving together: one transaction each (inbox + transition + status event + mark
applied), committed in shared batches (group commit), every acknowledged one durable and applied once."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlmodel import Session, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.store.models import InboxNotification

from .conftest import CHANNELS, STORE, TERMINAL, Rig, event_states, native_req

PATHS = {"/notify/wechatpay": Channel.WECHAT, "/notify/alipay": Channel.ALIPAY}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_concurrent_notifications_and_duplicates_apply_each_payment_once(rig: Rig, channel: Channel) -> None:
    rig.receiver.service = None  # the gateway's first deliveries are kept, not applied (answered 404)
    orders = []
    for _ in range(12):
        view = await rig.service.create_payment(TERMINAL, STORE, native_req(channel))
        await rig.pay_qr(view.code_url or "")
        orders.append(view.out_trade_no)
    await rig.step()
    first = {body: (path, headers) for path, headers, body in rig.receiver.requests}
    assert len(first) == len(orders)
    for otn in orders:
        assert (await rig.service.get_payment(TERMINAL, otn)).state == PaymentState.AWAITING_SCAN

    # Every notification three times, all at once, in random order.
    load = [(path, headers, body) for body, (path, headers) in first.items()] * 3
    random.Random(7).shuffle(load)
    acks = await asyncio.gather(*(rig.service.handle_notification(PATHS[p], h, b) for p, h, b in load))
    assert all(200 <= ack.status_code < 300 for ack in acks), [a.status_code for a in acks]

    for otn in orders:
        assert (await rig.service.get_payment(TERMINAL, otn)).state == PaymentState.PAID
        assert event_states(rig, otn).count("PAID") == 1  # one transition, one status event
    with Session(rig.ledger) as session:
        rows = list(session.exec(select(InboxNotification)).all())
    assert len(rows) == len(orders)  # deduplicated on (channel, event id)
    assert sorted(r.out_trade_no or "" for r in rows) == sorted(orders)
    assert all(r.applied_at is not None and r.outcome == "PAID" for r in rows)
    await rig.service.aclose()
