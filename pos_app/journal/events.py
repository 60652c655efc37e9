"""The append-only event log: a per-terminal gap-free sequence and a SHA-256 hash chain.

Each event's hash is ``sha256(canonical({"seq", "kind", "payload", "at", "prev_hash"})).hexdigest()``
where *canonical* is ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8, ``at`` is the ISO-8601 text of the event time in UTC with microseconds
(``2026-11-22T10:49:07.000000+00:00``) and the first event's ``prev_hash`` is 64 zeros.
The same fields make ``pos_app.api.schemas.JournalEvent``, so the engine can re-check the chain.
The scheme itself is ``pos_app.domain.chain`` (pure, shared with the engine); what a payload may hold
is :mod:`pos_app.journal.payloads`. Every payload names the person who caused it in ``"cashier"``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from pos_app.domain.chain import GENESIS_HASH, canonical_json, event_hash, utc_text
from pos_app.journal.clock import aware
from pos_app.journal.models import Counter, JournalEvent, OutboxEntry
from pos_app.journal.payloads import check_json, load_payload

EVENT_COUNTER = "events"


def at_text(at: datetime) -> str:
    """The canonical text of an event time: UTC, microseconds, ``+00:00``."""
    return utc_text(aware(at))


_COUNTERS = Counter.__table__  # type: ignore[attr-defined]
_BUMP = (
    update(_COUNTERS)
    .where(_COUNTERS.c.terminal_id == bindparam("terminal"), _COUNTERS.c.name == bindparam("counter"))
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.value)
)


def next_seq(session: Session, terminal_id: str, name: str = "trade") -> int:
    """Increment and return a durable per-terminal counter (1, 2, 3, ...). Never commits:
    the number is used by the same transaction that commits it, so a rollback leaves no gap.
    """
    # One UPDATE ... RETURNING, not an ORM load + change + flush: this runs twice in every sale's
    # intent, on the cashier's path from the key to the QR. (SQLite >= 3.35, as shipped with Python 3.11.)
    value = session.execute(_BUMP, {"terminal": terminal_id, "counter": name}).scalar_one_or_none()
    if value is None:
        session.execute(insert(_COUNTERS).values(terminal_id=terminal_id, name=name, value=1))
        value = 1
    return int(value)


def last_event(session: Session, terminal_id: str) -> JournalEvent | None:
    statement = (
        select(JournalEvent).where(JournalEvent.terminal_id == terminal_id).order_by(col(JournalEvent.seq).desc())
    )
    return session.exec(statement.limit(1)).first()


def append_event(
    session: Session,
    terminal_id: str,
    kind: str,
    payload: dict[str, Any],
    at: datetime,
    *,
    outbox: bool = True,
) -> JournalEvent:
    """Append one event to the terminal's chain (and, by default, queue it in the outbox). No commit.

    ``payload`` must name the person responsible in ``payload["cashier"]``.
    """
    if not isinstance(payload.get("cashier"), str) or not payload["cashier"]:
        raise ValueError(f"event {kind!r}: the payload must name the cashier")
    check_json(payload, "payload")
    # Round-trip through JSON so tuples become lists exactly as they will be read back.
    clean = load_payload(canonical_json(payload))
    seq = next_seq(session, terminal_id, EVENT_COUNTER)
    previous = last_event(session, terminal_id)
    prev_hash = previous.hash if previous is not None else GENESIS_HASH
    if (previous.seq if previous is not None else 0) != seq - 1:
        raise RuntimeError(f"journal event counter ({seq}) disagrees with the last event; run `pos journal verify`")
    text = at_text(at)
    event = JournalEvent(
        terminal_id=terminal_id,
        seq=seq,
        kind=kind,
        payload_json=canonical_json(clean),
        at_text=text,
        prev_hash=prev_hash,
        hash=event_hash(seq=seq, kind=kind, payload=clean, at=text, prev_hash=prev_hash),
        ref=expected_ref(clean),
    )
    session.add(event)
    if outbox:
        session.add(OutboxEntry(terminal_id=terminal_id, seq=seq, created_at=aware(at)))
    session.flush()
    return event


def expected_ref(payload: dict[str, Any]) -> str | None:
    """What the ``ref`` index column of an event with this payload holds: the sale's out_trade_no."""
    ref = payload.get("out_trade_no")
    return ref if isinstance(ref, str) else None
