"""The Payments page: search the ledger by order number, transaction id, amount, time, state and till;
one payment with its whole trail (gateway calls and their answers, notifications, refunds).

The viewer's stores are part of every query, so a payment of another store is not found at all —
the same answer as a payment that does not exist. No full payment code is stored in the ledger
(only its last 4 digits), and the trail shows no key, signature or raw notification body.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine
from sqlmodel import Session, col, select

from pos_app.engine.store.models import Attempt, InboxNotification, Payment, Refund

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
EXPORT_BATCH = 2_000


@dataclass(frozen=True)
class PaymentQuery:
    order: str | None = None  # out_trade_no, whole or its beginning
    transaction_id: str | None = None
    amount_fen: int | None = None
    since: datetime | None = None  # aware; created at or after
    until: datetime | None = None  # aware; created before
    state: str | None = None
    terminal_id: str | None = None
    before_id: int | None = None  # the next page: payments older than this row


def _conditions(query: PaymentQuery, stores: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if stores is not None:
        where.append(col(Payment.store_id).in_(stores))
    if query.order:
        # A range, not LIKE: it uses the unique index on every database whatever its collation.
        where += [col(Payment.out_trade_no) >= query.order, col(Payment.out_trade_no) < query.order + "\x7f"]
    if query.transaction_id:
        where.append(col(Payment.transaction_id) == query.transaction_id)
    if query.amount_fen is not None:
        where.append(col(Payment.amount_fen) == query.amount_fen)
    if query.since is not None:
        where.append(col(Payment.created_at) >= query.since)
    if query.until is not None:
        where.append(col(Payment.created_at) < query.until)
    if query.state:
        where.append(col(Payment.state) == query.state)
    if query.terminal_id:
        where.append(col(Payment.terminal_id) == query.terminal_id)
    return where


def search_payments(engine: Engine, query: PaymentQuery, stores: tuple[str, ...] | None) -> list[Payment]:
    """The newest ``PAGE_SIZE`` payments matching ``query`` (older ones: ``before_id`` = the last id shown)."""
    where = _conditions(query, stores)
    if query.before_id is not None:
        where.append(col(Payment.id) < query.before_id)
    statement = select(Payment).where(*where).order_by(col(Payment.id).desc()).limit(PAGE_SIZE)
    with Session(engine) as session:
        return list(session.exec(statement).all())


def export_payments(engine: Engine, query: PaymentQuery, stores: tuple[str, ...] | None) -> Iterator[Payment]:
    """Every payment matching ``query`` (newest first, at most EXPORT_LIMIT), read in batches."""
    where = _conditions(query, stores)
    last: int | None = None
    sent = 0
    while sent < EXPORT_LIMIT:
        page = [*where, col(Payment.id) < last] if last is not None else where
        statement = select(Payment).where(*page).order_by(col(Payment.id).desc()).limit(EXPORT_BATCH)
        with Session(engine) as session:
            rows = list(session.exec(statement).all())
        if not rows:
            return
        yield from rows[: EXPORT_LIMIT - sent]
        sent += len(rows)
        last = rows[-1].id


@dataclass(frozen=True)
class PaymentTrail:
    payment: Payment
    attempts: Sequence[Attempt]
    notifications: Sequence[InboxNotification]
    refunds: Sequence[Refund]


def payment_trail(engine: Engine, out_trade_no: str, stores: tuple[str, ...] | None) -> PaymentTrail | None:
    where = [col(Payment.out_trade_no) == out_trade_no]
    if stores is not None:
        where.append(col(Payment.store_id).in_(stores))
    with Session(engine) as session:
        payment = session.exec(select(Payment).where(*where)).first()
        if payment is None:
            return None
        attempts = session.exec(
            select(Attempt).where(Attempt.out_trade_no == out_trade_no).order_by(col(Attempt.id))
        ).all()
        notifications = session.exec(
            select(InboxNotification)
            .where(InboxNotification.out_trade_no == out_trade_no)
            .order_by(col(InboxNotification.id))
        ).all()
        refunds = session.exec(select(Refund).where(Refund.out_trade_no == out_trade_no).order_by(col(Refund.id))).all()
    return PaymentTrail(payment=payment, attempts=attempts, notifications=notifications, refunds=refunds)
