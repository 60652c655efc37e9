"""One batch of payment notifications holding every case, and the rows one-by-one delivery would
leave: shared by the SQLite (group commit) and PostgreSQL (batches) writers' tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence

from sqlmodel import Session, col, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.notify.records import DUPLICATE
from pos_app.engine.notify.writer import Outcome
from pos_app.engine.providers.base import Notification, TradeResult
from pos_app.engine.store.models import InboxNotification, Payment, StatusEvent

from .conftest import STORE, TERMINAL, Rig, event_states, native_req, record_unapplied

#: Writes one batch of (notification, raw body) in one transaction; an outcome per item.
Write = Callable[[Sequence[tuple[Notification, bytes]]], Awaitable[list[Outcome]]]


async def every_case_in_one_batch(rig: Rig, write: Write) -> None:
    """A batch of payment notifications is written with a few statements for the whole batch (rows
    read once, decided in memory). Every case in ONE batch, in arrival order: a first
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
    outcomes = await write([(n, b"{}") for n in items])
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
    again = await write([(n, b"{}") for n in items])
    assert again == [DUPLICATE] * len(items)
    assert event_states(rig, c) == [*created, "CLOSED", "CLOSED"]
