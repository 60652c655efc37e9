"""The terminals' uploaded journal events (``POST /v1/sync/batches``): stored contiguously, hash-checked.

The caller owns the transaction: every function takes ``session=`` and never commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Field, Session, select

from pos_app.domain.chain import GENESIS_HASH, event_hash, utc_text
from pos_app.domain.errors import PosError
from pos_app.engine.store.base import LedgerTable
from pos_app.engine.store.utc_columns import stored, utcnow


class SyncedJournalEvent(LedgerTable, table=True):
    """One terminal journal event as uploaded by ``POST /v1/sync/batches``."""

    __tablename__ = "terminal_journal_events"

    terminal_id: str = Field(primary_key=True, max_length=4)
    seq: int = Field(primary_key=True)
    kind: str = Field(max_length=64)
    payload_json: str
    at: datetime
    prev_hash: str = Field(max_length=128)
    hash: str = Field(max_length=128)
    received_at: datetime


class SyncConflict(PosError):
    """An uploaded journal batch has a gap or disagrees with what the engine holds."""

    def __init__(self, message: str, *, acked_seq: int) -> None:
        super().__init__(message)
        self.acked_seq = acked_seq


def held_seq(*, session: Session, terminal_id: str) -> int:
    """Highest seq held; batches are only ever stored contiguously, so every seq below it is held too."""
    value = session.exec(
        select(func.max(SyncedJournalEvent.seq)).where(SyncedJournalEvent.terminal_id == terminal_id)
    ).one()
    return int(value or 0)


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    seq: int
    kind: str
    payload: dict[str, Any]
    at: datetime
    prev_hash: str
    hash: str


def store_journal_events(
    *, session: Session, terminal_id: str, events: Sequence[IncomingEvent], now: datetime | None = None
) -> int:
    """Upsert a batch by (terminal_id, seq); returns the highest contiguous seq held afterwards.

    A replayed event (same seq, same hash) changes nothing. A different hash for a held seq (a
    fork: the terminal's journal was edited or re-created), a seq beyond the next one (a gap) or an
    event whose content does not give its hash (recomputed with ``pos_app.domain.chain``, the
    journal's own scheme) raises SyncConflict and stores nothing of the batch.
    """
    received = now or utcnow()
    held = initial = held_seq(session=session, terminal_id=terminal_id)
    last_hash: str | None = GENESIS_HASH
    if held:
        last = session.get(SyncedJournalEvent, (terminal_id, held))
        last_hash = last.hash if last else None
    for item in sorted(events, key=lambda e: e.seq):
        # A time without its UTC offset has no canonical text: it cannot match any hash.
        at = utc_text(item.at) if item.at.utcoffset() is not None else ""
        computed = event_hash(seq=item.seq, kind=item.kind, payload=item.payload, at=at, prev_hash=item.prev_hash)
        if computed != item.hash:
            raise SyncConflict(
                f"Journal event {item.seq} does not match its hash (its content was changed) — run "
                "`pos journal verify` on the terminal and call support.",
                acked_seq=initial,
            )
        if item.seq <= held:
            copy = session.get(SyncedJournalEvent, (terminal_id, item.seq))
            if copy is not None and copy.hash != item.hash:
                raise SyncConflict(
                    f"Journal event {item.seq} differs from the copy the engine already holds — the terminal "
                    "journal was changed; run `pos journal verify` and call support.",
                    acked_seq=initial,
                )
            continue
        if item.seq > held + 1:
            raise SyncConflict(
                f"Journal events {held + 1}..{item.seq - 1} are missing — the engine holds up to {initial}; "
                f"send again from {initial + 1}.",
                acked_seq=initial,
            )
        if last_hash is not None and item.prev_hash != last_hash:
            raise SyncConflict(
                f"Journal event {item.seq} does not follow event {held} (hash chain broken) — the terminal "
                "journal was changed; run `pos journal verify` and call support.",
                acked_seq=initial,
            )
        session.add(
            SyncedJournalEvent(
                terminal_id=terminal_id,
                seq=item.seq,
                kind=item.kind,
                payload_json=json.dumps(item.payload, sort_keys=True, separators=(",", ":"), default=str),
                at=stored(item.at),
                prev_hash=item.prev_hash,
                hash=item.hash,
                received_at=stored(received),
            )
        )
        held, last_hash = item.seq, item.hash
    return held
