"""Ledger reads the matcher makes on demand: the day's refunds, payments and refunds by number, terminals, counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine, and_, case, func, or_, select

from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.inputs import LedgerRefund, LedgerRow
from pos_app.engine.reconcile.ledger_day import IN_CHUNK, day_bounds
from pos_app.engine.store.db import reader
from pos_app.engine.store.models import Payment, Refund


def lookup_terminals(engine: Engine, out_trade_nos: Sequence[str]) -> dict[str, str]:
    """out_trade_no → terminal id, for the few bulk-read payments that become open items."""
    p = Payment.__table__.c  # type: ignore[attr-defined]
    found: dict[str, str] = {}
    with reader(engine).connect() as conn:
        for i in range(0, len(out_trade_nos), IN_CHUNK):
            chunk = list(out_trade_nos[i : i + IN_CHUNK])
            stmt = select(p.out_trade_no, p.terminal_id).where(p.out_trade_no.in_(chunk))
            found.update((row[0], row[1]) for row in conn.execute(stmt))
    return found


def count_due(engine: Engine, day: date, channel: Channel) -> int:
    """How many payments with money in (and refunds) of ``channel`` the day's bill must list."""
    start, end = day_bounds(day)
    p = Payment.__table__.c  # type: ignore[attr-defined]
    r = Refund.__table__.c  # type: ignore[attr-defined]
    paid = select(func.count()).where(p.channel == channel.value, p.paid_at >= start, p.paid_at < end)
    refunded = (
        select(func.count())
        .select_from(Refund.__table__.join(Payment.__table__, r.out_trade_no == p.out_trade_no))  # type: ignore[attr-defined]
        .where(p.channel == channel.value, r.business_day == day.isoformat())
    )
    with reader(engine).connect() as conn:
        return int(conn.execute(paid).scalar_one()) + int(conn.execute(refunded).scalar_one())


def lookup_payments(engine: Engine, out_trade_nos: Sequence[str]) -> list[LedgerRow]:
    """Payments by number, whatever their day (for bill rows outside the day's window); due = 0."""
    p = Payment.__table__.c  # type: ignore[attr-defined]
    found: list[LedgerRow] = []
    with reader(engine).connect() as conn:
        for i in range(0, len(out_trade_nos), IN_CHUNK):
            chunk = list(out_trade_nos[i : i + IN_CHUNK])
            stmt = select(p.out_trade_no, p.state, p.amount_fen, p.terminal_id).where(p.out_trade_no.in_(chunk))
            found.extend((row[0], row[1], row[2], row[3], 0) for row in conn.execute(stmt))
    return found


def load_ledger_refunds(engine: Engine, day: date, channel: Channel) -> list[LedgerRefund]:
    """Refunds of ``channel``'s payments asked for or succeeded on ``day``."""
    start, end = day_bounds(day)
    r = Refund.__table__.c  # type: ignore[attr-defined]
    p = Payment.__table__.c  # type: ignore[attr-defined]
    today = day.isoformat()
    succeeded_in_day = and_(r.succeeded_at >= start, r.succeeded_at < end)
    due = case((succeeded_in_day, 1), (and_(r.succeeded_at.is_(None), r.business_day == today), 1), else_=0)
    # Two steps, not a join filtered on the payment's channel: given that filter, SQLite walks
    # every payment ever taken to find the day's few refunds (0.9 s on a million-payment ledger).
    stmt = select(r.out_refund_no, r.out_trade_no, r.amount_fen, r.state, due).where(
        or_(r.business_day == today, succeeded_in_day)
    )
    with reader(engine).connect() as conn:
        rows = conn.execute(stmt).all()
        numbers = sorted({row[1] for row in rows})
        ours: set[str] = set()
        for i in range(0, len(numbers), IN_CHUNK):
            chunk = numbers[i : i + IN_CHUNK]
            found = select(p.out_trade_no).where(p.out_trade_no.in_(chunk), p.channel == channel.value)
            ours.update(conn.execute(found).scalars())
    return [LedgerRefund(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows if row[1] in ours]


def lookup_refunds(engine: Engine, out_refund_nos: Sequence[str]) -> list[LedgerRefund]:
    r = Refund.__table__.c  # type: ignore[attr-defined]
    found: list[LedgerRefund] = []
    with reader(engine).connect() as conn:
        for i in range(0, len(out_refund_nos), IN_CHUNK):
            chunk = list(out_refund_nos[i : i + IN_CHUNK])
            stmt = select(r.out_refund_no, r.out_trade_no, r.amount_fen, r.state).where(r.out_refund_no.in_(chunk))
            found.extend(LedgerRefund(row[0], row[1], row[2], row[3], False) for row in conn.execute(stmt))
    return found
