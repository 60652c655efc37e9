"""The cash drawer's ledger: which shift is open on a terminal, and booking drawer movements to it.

Sales, cash sales, refunds and shifts all book to the open shift; they share this module so that
none of them has to import another aggregate for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from pos_app.journal.clock import aware
from pos_app.journal.models import CashMovement, Shift


def current_shift(session: Session, terminal_id: str) -> Shift | None:
    """The open shift of this terminal, if any."""
    statement = (
        select(Shift)
        .where(Shift.terminal_id == terminal_id, col(Shift.closed_at).is_(None))
        .order_by(col(Shift.id).desc())
    )
    return session.exec(statement).first()


def add_movement(
    session: Session,
    *,
    terminal_id: str,
    kind: str,
    amount_fen: int,
    cashier: str,
    at: datetime,
    out_trade_no: str | None = None,
    reason: str = "",
) -> CashMovement:
    """Write one signed drawer movement, booked to the open shift (none if no shift is open). No event:
    the caller journals it with the change that caused it."""
    shift = current_shift(session, terminal_id)
    movement = CashMovement(
        terminal_id=terminal_id,
        shift_id=None if shift is None else shift.id,
        kind=kind,
        amount_fen=amount_fen,
        out_trade_no=out_trade_no,
        reason=reason[:80],
        cashier=cashier,
        at=aware(at),
    )
    session.add(movement)
    session.flush()
    return movement
