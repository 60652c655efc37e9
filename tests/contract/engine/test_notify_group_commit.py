"""Notifications arriving together: one transaction each (inbox + transition + status event + mark
applied), committed in shared batches (group commit), every acknowledged one durable and applied once."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlmodel import Session, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.providers.base import Notification, TradeResult
from pos_app.engine.store.models import InboxNotification, Payment

from .batch_cases import every_case_in_one_batch
from .conftest import CHANNELS, STORE, TERMINAL, Rig, event_states, group_commit, native_req

PATHS = {"/notify/wechatpay": Channel.WECHAT, "/notify/alipay": Channel.ALIPAY}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_concurrent_notifications_and_duplicates_apply_each_payment_once(rig: Rig, channel: Channel) -> None:
    rig.receiver.notifications = None  # the gateway's first deliveries are kept, not applied (answered 404)
    orders = []
    for _ in range(12):
        view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
        await rig.pay_qr(view.code_url or "")
        orders.append(view.out_trade_no)
    await rig.step()
    first = {body: (path, headers) for path, headers, body in rig.receiver.requests}
    assert len(first) == len(orders)
    for otn in orders:
        assert (await rig.engine.payments.get_payment(TERMINAL, otn)).state == PaymentState.AWAITING_SCAN

    # Every notification three times, all at once, in random order.
    load = [(path, headers, body) for body, (path, headers) in first.items()] * 3
    random.Random(7).shuffle(load)
    acks = await asyncio.gather(*(rig.engine.notifications.handle_notification(PATHS[p], h, b) for p, h, b in load))
    assert all(200 <= ack.status_code < 300 for ack in acks), [a.status_code for a in acks]

    for otn in orders:
        assert (await rig.engine.payments.get_payment(TERMINAL, otn)).state == PaymentState.PAID
        assert event_states(rig, otn).count("PAID") == 1  # one transition, one status event
    with Session(rig.ledger) as session:
        rows = list(session.exec(select(InboxNotification)).all())
    assert len(rows) == len(orders)  # deduplicated on (channel, event id)
    assert sorted(r.out_trade_no or "" for r in rows) == sorted(orders)
    assert all(r.applied_at is not None and r.outcome == "PAID" for r in rows)
    await rig.engine.aclose()


async def test_one_batch_with_every_case_leaves_the_rows_one_by_one_delivery_would(rig: Rig) -> None:
    """SQLite writes a batch of payment notifications with a few statements for the whole batch
    (rows read once, decided in memory); the same cases on PostgreSQL: tests/postgres."""
    await every_case_in_one_batch(rig, group_commit(rig).write_batch)
    await rig.engine.aclose()


async def test_a_batch_waits_for_another_writer_instead_of_failing(rig: Rig) -> None:
    """A batch begins its transaction on the event loop only when SQLite's write lock is free right
    then; while another connection holds it (a thread of this process, another engine process) the
    batch waits for it in a worker thread, and is stored once it is released."""
    channel = Channel.WECHAT
    otn = (await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))).out_trade_no
    with Session(rig.ledger) as session:
        amount = session.exec(select(Payment).where(Payment.out_trade_no == otn)).one().amount_fen
    trade = TradeResult(out_trade_no=otn, state=PaymentState.PAID, transaction_id="TX-HELD", amount_fen=amount)
    n = Notification(channel=channel, event_id="EV-held", kind="payment", out_trade_no=otn, trade=trade)

    holder = rig.ledger.connect()
    holder.begin()  # BEGIN IMMEDIATE: the write lock is taken
    try:
        assert group_commit(rig).begin_if_free() is None  # answers at once, nothing begun
        writing = asyncio.ensure_future(group_commit(rig).write_batch([(n, b"{}")]))
        await asyncio.sleep(0.3)
        assert not writing.done()
    finally:
        holder.rollback()
        holder.close()
    assert await writing == ["PAID"]
    assert (await rig.engine.payments.get_payment(TERMINAL, otn)).state == PaymentState.PAID
    began = group_commit(rig).begin_if_free()  # free again, and the busy timeout is back for everyone else
    assert began is not None
    try:
        dbapi = began.connection.dbapi_connection
        assert dbapi is not None
        assert dbapi.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    finally:
        began.close()
    await rig.engine.aclose()
