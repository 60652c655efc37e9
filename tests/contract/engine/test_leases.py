"""Settling leases: short (LEASE), held by one process, taken over soon after that process died."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.context import LEASE
from pos_app.engine.store.models import Payment

from .conftest import CHANNELS, STORE, TERMINAL, Rig, attempts, micropay_req


def lease(rig: Rig, out_trade_no: str) -> tuple[object, object]:
    with Session(rig.ledger) as session:
        p = session.exec(select(Payment).where(Payment.out_trade_no == out_trade_no)).one()
        return p.lease_until, p.lease_owner


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_dead_process_payment_is_taken_over_once_its_short_lease_lapses(rig: Rig, channel: Channel) -> None:
    code = await rig.authcode(channel.value, password_seconds=3600)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code))
    otn = view.out_trade_no
    until, owner = lease(rig, otn)
    assert owner is not None and until is not None
    await rig.engine.aclose()  # the process dies: nobody renews its lease any more

    restarted = rig.new_engine()
    queries = len(attempts(rig, otn, "query"))
    assert await restarted.resolver.resolve_once() == 0
    assert len(attempts(rig, otn, "query")) == queries  # the lease is held: left alone, not even queried

    rig.time.advance(LEASE.total_seconds() + 1)  # well before the micropay deadline (45 s / 60 s)
    assert await restarted.resolver.resolve_once() == 0  # still paying: queried, not reversed yet
    assert len(attempts(rig, otn, "query")) == queries + 1  # taken over
    assert (await restarted.payments.get_payment(TERMINAL, otn)).state == PaymentState.USER_PAYING
    assert lease(rig, otn)[0] is None  # released after the pass, for whichever process comes next
    await restarted.aclose()
