"""Notifications arriving together: one transaction each (inbox + transition + status event + mark
applied), committed in shared batches (group commit), every acknowledged one durable and applied once."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from sqlmodel import Session, col, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.notify.records import DUPLICATE
from pos_app.engine.providers.base import Notification, TradeResult
from pos_app.engine.store.models import InboxNotification, Payment, StatusEvent

from .conftest import CHANNELS, STORE, TERMINAL, Rig, event_states, group_commit, native_req, record_unapplied

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
    (rows read once, decided in memory). Every case in ONE batch, in arrival order: a first
    delivery, the same event again, another event for the now-paid order, an unknown order, an event
    recorded earlier but never applied, and two changes to one order (CLOSED, then PAID after close)."""
    channel = Channel.WECHAT
    a, b, c = [
        (await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))).out_trade_no for _ in range(3)
    ]
    with Session(rig.ledger) as session:
        before = {p.out_trade_no: (p.version, p.amount_fen) for p in session.exec(select(Payment)).all()}
    versions = {otn: version for otn, (version, _) in before.items()}

    def event(event_id: str, otn: str, state: PaymentState, tx: str | None = None) -> Notification:
        amount = before[otn][1] if otn in before else 100
        trade = TradeResult(out_trade_no=otn, state=state, transaction_id=tx, amount_fen=amount)
        return Notification(channel=channel, event_id=event_id, kind="payment", out_trade_no=otn, trade=trade)

    recorded_earlier = event("EV-4", b, PaymentState.PAID, "TX-B")
    record_unapplied(rig, recorded_earlier, b"{}", rig.time())
    items = [
        event("EV-1", a, PaymentState.PAID, "TX-A"),
        event("EV-1", a, PaymentState.PAID, "TX-A"),
        event("EV-2", a, PaymentState.PAID, "TX-A"),
        event("EV-3", "P0000000000UNKNOWN", PaymentState.PAID, "TX-X"),
        recorded_earlier,
        event("EV-5", c, PaymentState.CLOSED),
        event("EV-6", c, PaymentState.PAID, "TX-C"),
    ]
    outcomes = await group_commit(rig).write_batch([(n, b"{}") for n in items])
    assert outcomes == ["PAID", DUPLICATE, "PAID", "unknown-order", "PAID", "CLOSED", "CLOSED"]

    with Session(rig.ledger) as session:
        payments = {p.out_trade_no: p for p in session.exec(select(Payment)).all()}
        rows = {r.event_id: r for r in session.exec(select(InboxNotification)).all()}
    assert (payments[a].state, payments[a].transaction_id, payments[a].version) == ("PAID", "TX-A", versions[a] + 1)
    assert (payments[b].state, payments[b].version) == ("PAID", versions[b] + 1)
    assert (payments[c].state, payments[c].needs_attention, payments[c].transaction_id) == ("CLOSED", True, "TX-C")
    assert payments[c].version == versions[c] + 2  # two compare-and-set steps, written once
    assert payments[a].paid_at is not None and payments[a].updated_at == rig.time()
    created = ["CREATED", "AWAITING_SCAN"]  # the status events of creating the order
    assert event_states(rig, a) == [*created, "PAID"] and event_states(rig, b) == [*created, "PAID"]
    assert event_states(rig, c) == [*created, "CLOSED", "CLOSED"]
    with Session(rig.ledger) as session:
        last = session.exec(
            select(StatusEvent).where(StatusEvent.out_trade_no == c).order_by(col(StatusEvent.id).desc())
        ).first()
    assert last is not None and json.loads(last.payload)["payment"]["needs_attention"] is True
    assert {k: (r.outcome, r.applied_at is not None) for k, r in rows.items()} == {
        "EV-1": ("PAID", True),
        "EV-2": ("PAID", True),
        "EV-3": ("unknown-order", True),
        "EV-4": ("PAID", True),
        "EV-5": ("CLOSED", True),
        "EV-6": ("CLOSED", True),
    }
    assert rows["EV-1"].parsed["trade"]["transaction_id"] == "TX-A"
    assert rows["EV-1"].received_at == rig.time()

    # Delivered again later (a new batch): all duplicates, nothing changes.
    again = await group_commit(rig).write_batch([(n, b"{}") for n in items])
    assert again == [DUPLICATE] * len(items)
    assert event_states(rig, c) == [*created, "CLOSED", "CLOSED"]
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
