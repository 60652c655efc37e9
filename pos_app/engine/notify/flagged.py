"""The flagged notifications a manager sees: those kept, not applied, about a report's payments."""

from __future__ import annotations

from sqlmodel import Session, col, select

from pos_app.api.schemas import FlaggedNotification
from pos_app.domain.routing import Channel
from pos_app.engine.notify.checks import FLAGGED
from pos_app.engine.store.models import InboxNotification, Payment


def flagged_notifications(
    session: Session, business_day: str, terminal_id: str | None = None, store_id: str | None = None
) -> list[FlaggedNotification]:
    """Flagged notifications about the payments of ``business_day`` (of one terminal or store).

    Found through the day's payments (both lookups indexed), so a report never scans the whole
    inbox; a flagged notification naming no order of ours is in the log and ``/metrics`` only: it
    belongs to no terminal or store."""
    stmt = (
        select(InboxNotification)
        .join(Payment, col(Payment.out_trade_no) == col(InboxNotification.out_trade_no))
        .where(Payment.business_day == business_day, InboxNotification.outcome == FLAGGED)
    )
    if terminal_id is not None:
        stmt = stmt.where(Payment.terminal_id == terminal_id)
    if store_id is not None:
        stmt = stmt.where(Payment.store_id == store_id)
    return [
        FlaggedNotification(
            channel=Channel(row.channel),
            event_id=row.event_id,
            event_type=row.event_type,
            out_trade_no=row.out_trade_no,
            received_at=row.received_at,
            reasons=list((row.parsed or {}).get("flagged") or ()),
        )
        for row in session.exec(stmt.order_by(col(InboxNotification.id))).all()
    ]
