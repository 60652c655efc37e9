"""``pos journal verify``: walk the hash chain, then check every covered row against the chain.

What is checked, in this order, and the first problem found is reported:

1. **The chain**, per terminal: seqs are 1, 2, 3, ... with no gap; each event's ``prev_hash`` is the
   previous event's ``hash`` (64 zeros for seq 1); each ``hash`` is recomputed from the stored content
   (an edited kind, payload, time or hash shows here); the ``ref`` index matches the payload; the
   event counter is not ahead of the last event (a deleted tail shows here); every outbox row points
   at an existing event.
2. **The rows**, against the latest snapshot each event recorded (see :mod:`.snapshots`): sales (with
   their lines and payment attempt), refunds, shifts, cash movements and staff. A row edited by hand,
   a row that no event recorded (inserted by hand), and a recorded row that is gone (deleted by hand)
   are reported with the seq of the event that recorded it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from pos_app.domain.chain import GENESIS_HASH, event_hash
from pos_app.journal.events import EVENT_COUNTER, expected_ref
from pos_app.journal.models import Counter, JournalEvent, OutboxEntry
from pos_app.journal.payloads import load_payload
from pos_app.journal.snapshots import SNAPSHOT_KEYS, current_snapshots


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    events: int
    problem: str | None = None
    seq: int | None = None
    terminal_id: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"{self.events} events, chain intact"
        return self.problem or "journal broken"


def _fail(events: int, terminal_id: str | None, seq: int | None, problem: str) -> VerifyResult:
    return VerifyResult(False, events, problem, seq, terminal_id)


def _first_difference(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            return key
    return "?"


def verify_session(session: Session) -> VerifyResult:
    """Verify the journal through an open session (read only)."""
    count = 0
    # (payload key, identity) -> (seq, terminal, snapshot) of the latest event that recorded that row
    recorded: dict[tuple[str, str], tuple[int, str, dict[str, Any]]] = {}
    last_seq: dict[str, int] = {}
    statement = select(JournalEvent).order_by(col(JournalEvent.terminal_id), col(JournalEvent.seq))
    previous_terminal: str | None = None
    previous_hash = GENESIS_HASH
    expected_seq = 1
    for event in session.exec(statement):
        terminal = event.terminal_id
        if terminal != previous_terminal:
            previous_terminal, previous_hash, expected_seq = terminal, GENESIS_HASH, 1
        where = f"event {event.seq}"
        if event.seq != expected_seq:
            missing = f"{expected_seq}" if event.seq == expected_seq + 1 else f"{expected_seq}–{event.seq - 1}"
            return _fail(count, terminal, expected_seq, f"event {missing} missing (deleted?): seq jumps to {event.seq}")
        if event.prev_hash != previous_hash:
            return _fail(
                count, terminal, event.seq, f"{where}: prev_hash does not match the hash of the event before it"
            )
        try:
            payload = load_payload(event.payload_json)
        except (ValueError, json.JSONDecodeError):
            return _fail(count, terminal, event.seq, f"{where}: payload is not valid JSON (edited?)")
        recomputed = event_hash(
            seq=event.seq, kind=event.kind, payload=payload, at=event.at_text, prev_hash=event.prev_hash
        )
        if recomputed != event.hash:
            return _fail(count, terminal, event.seq, f"{where}: content does not match its hash (edited)")
        if event.ref != expected_ref(payload):
            return _fail(count, terminal, event.seq, f"{where}: ref column does not match the payload (edited)")
        for key, identity_field in SNAPSHOT_KEYS.items():
            snapshot = payload.get(key)
            if isinstance(snapshot, dict):
                recorded[(key, str(snapshot.get(identity_field)))] = (event.seq, terminal, snapshot)
        previous_hash = event.hash
        last_seq[terminal] = event.seq
        expected_seq += 1
        count += 1

    for counter in session.exec(select(Counter).where(Counter.name == EVENT_COUNTER)):
        have = last_seq.get(counter.terminal_id, 0)
        if counter.value > have:
            return _fail(
                count,
                counter.terminal_id,
                have + 1,
                f"event {have + 1} missing (deleted?): the journal numbered {counter.value} events but holds {have}",
            )
    for entry in session.exec(select(OutboxEntry).order_by(col(OutboxEntry.seq))):
        if entry.seq > last_seq.get(entry.terminal_id, 0):
            return _fail(
                count, entry.terminal_id, entry.seq, f"event {entry.seq} missing (deleted?): still in the outbox"
            )

    current = current_snapshots(session)
    for (key, identity), (seq, terminal, snapshot) in sorted(recorded.items(), key=lambda item: item[1][0]):
        row = current.get((key, identity))
        if row is None:
            return _fail(count, terminal, seq, f"event {seq}: the {key} {identity} it records is missing (deleted)")
        if row != snapshot:
            field = _first_difference(snapshot, row)
            return _fail(
                count, terminal, seq, f"event {seq}: {key} {identity} differs from what it recorded ({field} edited)"
            )
    for key, identity in sorted(set(current) - set(recorded)):
        return _fail(
            count,
            None,
            None,
            f"{key} {identity} is not recorded by any event (inserted by hand, or the events after"
            f" event {max(last_seq.values(), default=0)} deleted)",
        )
    return VerifyResult(True, count)


def verify_chain(source: Session | Engine) -> VerifyResult:
    """Verify the whole journal; see the module docstring for what is covered."""
    if isinstance(source, Session):
        return verify_session(source)
    with Session(source) as session:
        return verify_session(session)
