"""The upload outbox: pending events in order, acknowledgements, the unsent count."""

from __future__ import annotations

from journal_kit import wallet_sale
from sqlalchemy import Engine
from sqlmodel import Session, select

from pos_app.domain.states import PaymentState
from pos_app.journal import (
    PaymentAttempt,
    mark_sent,
    pending_outbox,
    session_scope,
    unsent_count,
)

S = PaymentState


def test_outbox_drains_in_order(journal: Engine) -> None:
    for _ in range(3):
        wallet_sale(journal)
    with session_scope(journal) as session:
        assert unsent_count(session) == 3
        assert [e.seq for e in pending_outbox(session, 2)] == [1, 2]
        assert mark_sent(session, 2) == 2
        assert mark_sent(session, 2) == 0  # a replayed ack changes nothing
        assert [e.seq for e in pending_outbox(session)] == [3]
        assert unsent_count(session) == 1
        body = pending_outbox(session)[0].as_upload()
    assert set(body) == {"seq", "kind", "payload", "at", "prev_hash", "hash"}
    with Session(journal) as session:
        assert session.exec(select(PaymentAttempt)).all()[0].cashier == "Alice"
