"""The Terminals page: every till of the viewer's stores — when it was activated, whether it is
disabled, how far its journal reached the engine and when, its last payment — and the activation
codes still waiting to be used (only their hashes are stored: a code is never shown again)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from pos_app.engine.store.models import Payment
from pos_app.engine.store.synced_journal import SyncedJournalEvent
from pos_app.engine.store.terminals import ActivationCode, Terminal
from pos_app.engine.store.utc_columns import stored


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


def tills(engine: Engine, stores: tuple[str, ...] | None) -> list[TillRow]:
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
            found.append(
                TillRow(t.store_id, t.terminal_id, t.name, t.activated_at, t.disabled, int(seq or 0), uploaded, paid)
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
