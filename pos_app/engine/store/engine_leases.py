"""Process-wide leases in the ledger (``engine_leases``): take, renew, release, see who holds one.

Take and renew are one statement each, so two processes racing for a lapsed lease cannot both win:
an UPDATE guarded by "still mine, or lapsed", or the INSERT of a row nobody made yet (the primary
key refuses the second).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pos_app.engine.store.models import EngineLease


def take_or_renew(session: Session, name: str, owner: str, now: datetime, until: datetime) -> bool:
    """Hold ``name`` until ``until`` if ``owner`` holds it already or its lease lapsed; False if
    another owner holds it still. The caller commits."""
    stmt = (
        update(EngineLease)
        .where(
            col(EngineLease.name) == name,
            or_(col(EngineLease.owner) == owner, col(EngineLease.lease_until) <= now),
        )
        .values(owner=owner, lease_until=until)
    )
    if session.exec(stmt).rowcount == 1:
        return True
    if session.get(EngineLease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(EngineLease(name=name, owner=owner, lease_until=until))
    except IntegrityError:  # another process made the row first: it holds the lease
        return False
    return True


def release(session: Session, name: str, owner: str, now: datetime) -> None:
    """Let the lease lapse now, if ``owner`` still holds it (another process takes it at once)."""
    session.exec(
        update(EngineLease)
        .where(col(EngineLease.name) == name, col(EngineLease.owner) == owner)
        .values(lease_until=now)
    )


def holder(session: Session, name: str, now: datetime) -> str | None:
    """The owner holding ``name`` now (None if nobody, or the lease lapsed)."""
    row = session.exec(select(EngineLease).where(col(EngineLease.name) == name)).first()
    if row is None or row.lease_until <= now:
        return None
    return row.owner
