"""The Terminals page: every till of the viewer's stores — when it was activated, whether it is
disabled, how far its journal reached the engine and when, how many journal events it still holds
unsent, when it last called the engine and with which version, its last payment — and the
activation codes still waiting to be used (only their hashes are stored: a code is never shown again)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from pos_app.engine.store.models import Payment
from pos_app.engine.store.synced_journal import SyncedJournalEvent
from pos_app.engine.store.terminals import ActivationCode, Terminal
from pos_app.engine.store.utc_columns import aware, stored


@dataclass(frozen=True)
class TillRow:
    store_id: str
    terminal_id: str
    name: str
    activated_at: datetime
    disabled: bool
    journal_seq: int  # the highest journal event the engine holds
    last_upload: datetime | None
    last_payment: datetime | None
    version: str | None = None  # the till software version it last named; None: not seen since 0007
    last_seen: datetime | None = None  # its last signed request (written every ~30 s)
    seen_minutes: int | None = None  # whole minutes since then, for "x min ago"
    unsent: int | None = None  # journal events the till holds that the engine does not; None: never said


def tills(engine: Engine, stores: tuple[str, ...] | None, *, now: datetime | None = None) -> list[TillRow]:
    moment = now or datetime.now(UTC)
    with Session(engine) as session:
        query = select(Terminal).order_by(col(Terminal.store_id), col(Terminal.terminal_id))
        if stores is not None:
            query = query.where(col(Terminal.store_id).in_(stores))
        found = []
        for t in session.exec(query).all():
            seq, uploaded = session.exec(
                select(func.max(SyncedJournalEvent.seq), func.max(SyncedJournalEvent.received_at)).where(
                    SyncedJournalEvent.terminal_id == t.terminal_id
                )
            ).one()
            paid = session.exec(select(func.max(Payment.created_at)).where(Payment.terminal_id == t.terminal_id)).one()
            held = int(seq or 0)
            seen = aware(t.last_seen_at) if t.last_seen_at is not None else None
            found.append(
                TillRow(
                    t.store_id,
                    t.terminal_id,
                    t.name,
                    t.activated_at,
                    t.disabled,
                    held,
                    uploaded,
                    paid,
                    version=t.version,
                    last_seen=seen,
                    seen_minutes=None if seen is None else max(0, int((moment - seen).total_seconds() // 60)),
                    unsent=None if t.journal_head_seq is None else max(0, t.journal_head_seq - held),
                )
            )
    return found


def waiting_codes(engine: Engine, stores: tuple[str, ...] | None, *, now: datetime) -> Sequence[ActivationCode]:
    """Unused, unexpired activation codes; a store manager sees those bound to their store only."""
    with Session(engine) as session:
        query = select(ActivationCode).where(
            col(ActivationCode.used_at).is_(None), col(ActivationCode.expires_at) > stored(now)
        )
        if stores is not None:
            query = query.where(col(ActivationCode.store_id).in_(stores))
        return session.exec(query.order_by(col(ActivationCode.created_at))).all()
