"""The upload outbox: events not yet acknowledged by the engine, in order, and marking them sent.

Rows are kept once acknowledged (``sent_at`` set); the drain itself is :mod:`pos_app.sync.outbox`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from pos_app.journal.clock import aware, now
from pos_app.journal.models import JournalEvent, OutboxEntry


def pending_outbox(session: Session, limit: int = 500, *, terminal_id: str | None = None) -> list[JournalEvent]:
    """Unsent events in seq order (upload them with ``event.as_upload()``)."""
    statement = (
        select(JournalEvent)
        .join(
            OutboxEntry,
            (col(OutboxEntry.terminal_id) == col(JournalEvent.terminal_id))
            & (col(OutboxEntry.seq) == col(JournalEvent.seq)),
        )
        .where(col(OutboxEntry.sent_at).is_(None))
    )
    if terminal_id is not None:
        statement = statement.where(JournalEvent.terminal_id == terminal_id)
    statement = statement.order_by(col(JournalEvent.terminal_id), col(JournalEvent.seq)).limit(limit)
    return list(session.exec(statement).all())


def mark_sent(session: Session, up_to_seq: int, *, terminal_id: str | None = None, at: datetime | None = None) -> int:
    """Mark every unsent event with seq <= ``up_to_seq`` as acknowledged; returns how many changed."""
    statement = select(OutboxEntry).where(col(OutboxEntry.sent_at).is_(None), OutboxEntry.seq <= up_to_seq)
    if terminal_id is not None:
        statement = statement.where(OutboxEntry.terminal_id == terminal_id)
    when = aware(at or now())
    count = 0
    for entry in session.exec(statement).all():
        entry.sent_at = when
        session.add(entry)
        count += 1
    session.flush()
    return count


def unsent_count(session: Session, *, terminal_id: str | None = None) -> int:
    """How many events still wait for the engine's acknowledgement."""
    statement = select(func.count()).select_from(OutboxEntry).where(col(OutboxEntry.sent_at).is_(None))
    if terminal_id is not None:
        statement = statement.where(OutboxEntry.terminal_id == terminal_id)
    return int(session.exec(statement).one())
