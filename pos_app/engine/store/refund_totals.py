"""Today's refunds per till and per store: what the daily refund limits are checked against.

Every refund not known to have failed counts (pending, processing, unknown, succeeded): money that is
or may be on its way back. The caller owns the transaction.
"""

from __future__ import annotations

import zlib

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from pos_app.domain.states import RefundState
from pos_app.engine.store.models import Payment, Refund

#: Arbitrary constant naming the "a store's refunds" advisory locks on PostgreSQL.
_REFUND_LOCK_KEY = 0x504F5303


def lock_store_refunds(session: Session, store_id: str) -> None:
    """Serialise refund reservations of one store until the transaction ends, so that two at once
    cannot both pass the limit. (SQLite: every writer already holds the database's write lock.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key, :store)"),
            {"key": _REFUND_LOCK_KEY, "store": zlib.crc32(store_id.encode("utf-8")) - 2**31},
        )


def refunded_today_fen(
    session: Session, business_day: str, *, terminal_id: str | None = None, store_id: str | None = None
) -> int:
    """The sum of the day's refunds of one terminal, or of one store's payments."""
    stmt = select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
        Refund.business_day == business_day, col(Refund.state) != RefundState.FAILED.value
    )
    if terminal_id is not None:
        stmt = stmt.where(Refund.terminal_id == terminal_id)
    if store_id is not None:
        stmt = stmt.join(Payment, col(Payment.out_trade_no) == col(Refund.out_trade_no)).where(
            Payment.store_id == store_id
        )
    return int(session.exec(stmt).one())
