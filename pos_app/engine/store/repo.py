"""Ledger queries. Every function takes ``session`` and never commits: the caller owns the transaction.

State changes go through :func:`cas_update_payment` / :func:`cas_update_refund`: an UPDATE guarded by
the row's ``version`` (read under ``SELECT … FOR UPDATE`` on PostgreSQL, inside ``BEGIN IMMEDIATE``
on SQLite), so of several processes applying the same change exactly one succeeds and the others
re-read and find nothing left to do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, or_, text, update
from sqlmodel import Session, col, select

from pos_app.api.schemas import PaymentEvent, PaymentView, RefundView, VoidKind
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState, RefundState
from pos_app.engine.store.models import Attempt, Payment, Refund, StatusEvent
from pos_app.engine.store.rows import PaymentRecord

#: Arbitrary constant naming the "append a status event" advisory lock on PostgreSQL (see append_event).
EVENT_LOCK_KEY = 0x504F5302
STATUS_EVENTS: Table = StatusEvent.__table__  # type: ignore[attr-defined]
OPEN_REFUND_STATES = (RefundState.PENDING.value, RefundState.PROCESSING.value, RefundState.UNKNOWN.value)
UNSETTLED_PAYMENT_STATES = tuple(s.value for s in PaymentState if s not in SETTLED_STATES)


def payment_view(p: PaymentRecord) -> PaymentView:
    return PaymentView(
        out_trade_no=p.out_trade_no,
        terminal_id=p.terminal_id,
        channel=Channel(p.channel) if p.channel is not None else None,
        mode=PaymentMode(p.mode),
        amount_fen=p.amount_fen,
        subject=p.subject,
        operator=p.operator,
        state=PaymentState(p.state),
        code_url=p.code_url,
        expires_at=p.expires_at,
        deadline_at=p.deadline_at,
        transaction_id=p.transaction_id,
        masked_auth_code=p.masked_auth_code,
        failure_reason=p.failure_reason,
        refunded_fen=p.refunded_fen,
        needs_attention=p.needs_attention,
        created_at=p.created_at,
        updated_at=p.updated_at,
        paid_at=p.paid_at,
        void_kind=VoidKind(p.void_kind) if p.void_kind else None,
    )


def refund_view(r: Refund) -> RefundView:
    return RefundView(
        out_refund_no=r.out_refund_no,
        out_trade_no=r.out_trade_no,
        amount_fen=r.amount_fen,
        state=RefundState(r.state),
        refund_id=r.refund_id,
        failure_reason=r.failure_reason,
        send_at=r.send_at,
        note=r.note,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def get_payment(session: Session, out_trade_no: str, *, lock: bool = False) -> Payment | None:
    stmt = select(Payment).where(Payment.out_trade_no == out_trade_no)
    if lock:
        stmt = stmt.with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).first()


def get_refund(session: Session, out_refund_no: str, *, lock: bool = False) -> Refund | None:
    stmt = select(Refund).where(Refund.out_refund_no == out_refund_no)
    if lock:
        stmt = stmt.with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).first()


def cas_update_payment(session: Session, payment: Payment, changes: dict[str, Any], now: datetime) -> bool:
    """Apply ``changes`` only if the row still has the version we read; refresh ``payment`` on success."""
    assert payment.id is not None
    stmt = (
        update(Payment)
        .where(col(Payment.id) == payment.id, col(Payment.version) == payment.version)
        .values(**changes, version=payment.version + 1, updated_at=now)
    )
    result = session.exec(stmt)
    if result.rowcount != 1:
        return False
    session.refresh(payment)
    return True


def cas_update_refund(session: Session, refund: Refund, changes: dict[str, Any], now: datetime) -> bool:
    assert refund.id is not None
    stmt = (
        update(Refund)
        .where(col(Refund.id) == refund.id, col(Refund.version) == refund.version)
        .values(**changes, version=refund.version + 1, updated_at=now)
    )
    result = session.exec(stmt)
    if result.rowcount != 1:
        return False
    session.refresh(refund)
    return True


def claim_payment(
    session: Session, out_trade_no: str, now: datetime, until: datetime, *, owner: str | None = None
) -> bool:
    """Take the settling lease of a payment unless another process holds an unexpired one."""
    stmt = (
        update(Payment)
        .where(
            col(Payment.out_trade_no) == out_trade_no,
            or_(col(Payment.lease_until).is_(None), col(Payment.lease_until) < now),
        )
        .values(lease_until=until, lease_owner=owner)
    )
    return session.exec(stmt).rowcount == 1


def renew_lease(session: Session, out_trade_no: str, owner: str, until: datetime) -> bool:
    """Extend a lease ``owner`` still holds (False: it was released, settled or taken over)."""
    stmt = (
        update(Payment)
        .where(
            col(Payment.out_trade_no) == out_trade_no,
            col(Payment.lease_owner) == owner,
            col(Payment.lease_until).is_not(None),
        )
        .values(lease_until=until)
    )
    return session.exec(stmt).rowcount == 1


def release_payment(session: Session, out_trade_no: str, *, owner: str | None = None) -> None:
    """Give the lease up (only if ``owner`` still holds it, when given)."""
    stmt = update(Payment).where(col(Payment.out_trade_no) == out_trade_no)
    if owner is not None:
        stmt = stmt.where(col(Payment.lease_owner) == owner)
    session.exec(stmt.values(lease_until=None))


def record_attempt(
    session: Session,
    out_trade_no: str,
    op: str,
    outcome: str,
    now: datetime,
    *,
    detail: str | None = None,
    out_refund_no: str | None = None,
) -> None:
    session.add(
        Attempt(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            op=op,
            outcome=outcome,
            detail=(detail or None) and detail[:255],
            at=now,
        )
    )


def append_event(session: Session, payment: PaymentView, now: datetime, *, refund: RefundView | None = None) -> int:
    """Add a status event for the payment's terminal. Returns its id (the SSE ``id``)."""
    return insert_event(session.connection(), payment, now, refund=refund)


def event_values(payment: PaymentView, now: datetime, *, refund: RefundView | None = None) -> dict[str, Any]:
    """The status_events row for a payment (and refund) change: the SSE payload is the views as JSON."""
    # Serialised by pydantic directly (compact JSON, the same document as json.dumps of model_dump).
    payload = '{"payment":' + payment.model_dump_json()
    if refund is not None:
        payload += ',"refund":' + refund.model_dump_json()
    return {
        "terminal_id": payment.terminal_id,
        "type": "refund" if refund is not None else "payment",
        "out_trade_no": payment.out_trade_no,
        "payload": payload + "}",
        "created_at": now,
    }


def insert_event(conn: Connection, payment: PaymentView, now: datetime, *, refund: RefundView | None = None) -> int:
    """:func:`append_event` on a Core connection (inside the caller's transaction).

    On PostgreSQL ids come from a sequence, and two transactions may commit out of id order; a reader
    that saw id 11 before id 10 committed would skip 10 for ever. A transaction-scoped advisory lock
    taken just before the insert (held to commit) makes event ids commit in order.
    """
    if conn.dialect.name != "sqlite":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOCK_KEY})
    result = conn.execute(_INSERT_EVENT, event_values(payment, now, refund=refund))
    key = result.inserted_primary_key
    assert key is not None and key[0] is not None
    return int(key[0])


# Built once (bound parameters, no per-call construction or cache-key work): it runs on every change.
_INSERT_EVENT = insert(STATUS_EVENTS).values(
    {name: bindparam(name) for name in ("terminal_id", "type", "out_trade_no", "payload", "created_at")}
)


def events_since(session: Session, terminal_id: str, last_event_id: int, limit: int) -> list[PaymentEvent]:
    stmt = (
        select(StatusEvent)
        .where(StatusEvent.terminal_id == terminal_id, col(StatusEvent.id) > last_event_id)
        .order_by(col(StatusEvent.id))
        .limit(limit)
    )
    events = []
    for row in session.exec(stmt).all():
        assert row.id is not None
        payload = json.loads(row.payload)
        events.append(
            PaymentEvent(
                event_id=row.id,
                type="refund" if row.type == "refund" else "payment",
                payment=PaymentView.model_validate(payload["payment"]),
                refund=RefundView.model_validate(payload["refund"]) if payload.get("refund") else None,
            )
        )
    return events


def unsettled_payments(session: Session, *, limit: int = 500) -> Sequence[Payment]:
    stmt = (
        select(Payment).where(col(Payment.state).in_(UNSETTLED_PAYMENT_STATES)).order_by(col(Payment.id)).limit(limit)
    )
    return session.exec(stmt).all()


def attention_payments(session: Session) -> Sequence[Payment]:
    """Unsettled payments plus settled ones a person must look at (needs_attention)."""
    stmt = (
        select(Payment)
        .where(or_(col(Payment.state).in_(UNSETTLED_PAYMENT_STATES), col(Payment.needs_attention).is_(True)))
        .order_by(col(Payment.id))
    )
    return session.exec(stmt).all()


def open_refunds(session: Session, *, limit: int = 500) -> Sequence[Refund]:
    stmt = select(Refund).where(col(Refund.state).in_(OPEN_REFUND_STATES)).order_by(col(Refund.id)).limit(limit)
    return session.exec(stmt).all()


def open_refunds_of(session: Session, out_trade_no: str) -> Sequence[Refund]:
    stmt = select(Refund).where(Refund.out_trade_no == out_trade_no, col(Refund.state).in_(OPEN_REFUND_STATES))
    return session.exec(stmt).all()


def reserved_refund_fen(session: Session, out_trade_no: str) -> int:
    """Fen already promised to refunds of this payment: every refund not definitely FAILED."""
    stmt = select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
        Refund.out_trade_no == out_trade_no, Refund.state != RefundState.FAILED.value
    )
    return int(session.exec(stmt).one())


def payments_of_day(
    session: Session, business_day: str, *, store_id: str, terminal_id: str | None
) -> Sequence[Payment]:
    """One store's payments of a business day (one terminal's, unless ``terminal_id`` is None)."""
    stmt = select(Payment).where(Payment.business_day == business_day, Payment.store_id == store_id)
    if terminal_id is not None:
        stmt = stmt.where(Payment.terminal_id == terminal_id)
    return session.exec(stmt.order_by(col(Payment.id))).all()
