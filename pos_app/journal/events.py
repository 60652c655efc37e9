"""The append-only event log: a per-terminal gap-free sequence and a SHA-256 hash chain.

Each event's hash is ``sha256(canonical({"seq", "kind", "payload", "at", "prev_hash"})).hexdigest()``
where *canonical* is ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8, ``at`` is the ISO-8601 text of the event time in UTC with microseconds
(``2026-11-22T10:49:07.000000+00:00``) and the first event's ``prev_hash`` is 64 zeros.
The same fields make ``pos_app.api.schemas.JournalEvent``, so the engine can re-check the chain.
The scheme itself is ``pos_app.domain.chain`` (pure, shared with the engine).

Payloads hold JSON values only (str, int, bool, None, lists, dicts with str keys) and never floats:
money is integer fen. Every payload names the person who caused it in ``"cashier"``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlmodel import Session, col, select

# The pure hashing lives in pos_app.domain.chain (the engine verifies with it); re-exported here.
from pos_app.domain.chain import GENESIS_HASH as GENESIS_HASH
from pos_app.domain.chain import canonical_json as canonical_json
from pos_app.domain.chain import event_hash as event_hash
from pos_app.domain.chain import utc_text
from pos_app.journal.models import Counter, JournalEvent, OutboxEntry

EVENT_COUNTER = "events"


def aware(at: datetime) -> datetime:
    """A time-zone-aware time: naive datetimes are taken as the machine's local wall time."""
    return at if at.utcoffset() is not None else at.astimezone()


def at_text(at: datetime) -> str:
    """The canonical text of an event time: UTC, microseconds, ``+00:00``."""
    return utc_text(aware(at))


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise TypeError(f"{where}: floats are not allowed in journal payloads (money is int fen)")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: payload keys must be strings, not {key!r}")
            _check_json(item, f"{where}.{key}")
        return
    raise TypeError(f"{where}: {type(value).__name__} is not a JSON value")


def load_payload(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("an event payload must be a JSON object")
    return value


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
    _check_json(payload, "payload")
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
        ref=_ref(clean),
    )
    session.add(event)
    if outbox:
        session.add(OutboxEntry(terminal_id=terminal_id, seq=seq, created_at=aware(at)))
    session.flush()
    return event


def _ref(payload: dict[str, Any]) -> str | None:
    ref = payload.get("out_trade_no")
    return ref if isinstance(ref, str) else None


def expected_ref(payload: dict[str, Any]) -> str | None:
    """What the ``ref`` index column of an event with this payload must hold."""
    return _ref(payload)


def event_count(session: Session, terminal_id: str | None = None) -> int:
    statement = select(func.count()).select_from(JournalEvent)
    if terminal_id is not None:
        statement = statement.where(JournalEvent.terminal_id == terminal_id)
    return int(session.exec(statement).one())
