"""The event log: gap-free per-terminal seq, SHA-256 chain from 64 zeros, engine-compatible bodies."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_kit import AT, TERMINAL, wallet_sale
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from pos_app.api.schemas import JournalEvent as UploadedEvent
from pos_app.journal import GENESIS_HASH, JournalEvent, append_event, session_scope, verify_chain


def independent_hash(seq: int, kind: str, payload: dict[str, Any], at: str, prev_hash: str) -> str:
    """The documented rule, written out again here rather than calling the code under test."""
    body = {"seq": seq, "kind": kind, "payload": payload, "at": at, "prev_hash": prev_hash}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def all_events(engine: Engine, terminal: str = TERMINAL) -> list[JournalEvent]:
    with Session(engine) as session:
        statement = select(JournalEvent).where(JournalEvent.terminal_id == terminal)
        return list(session.exec(statement.order_by(col(JournalEvent.seq))).all())


def test_chain_starts_at_genesis_and_links(journal: Engine) -> None:
    with session_scope(journal) as session:
        for n in range(5):
            append_event(session, TERMINAL, "note", {"cashier": "Alice", "n": n, "text": "小票 ¥1"}, AT)
    events = all_events(journal)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH == "0" * 64
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
    for event in events:
        assert len(event.hash) == 64 and int(event.hash, 16) >= 0
        assert event.hash == independent_hash(event.seq, event.kind, event.payload, event.at_text, event.prev_hash)
    assert "小票" in events[0].payload_json  # ensure_ascii=False: stored as the person wrote it


def test_each_terminal_has_its_own_chain(journal: Engine) -> None:
    with session_scope(journal) as session:
        append_event(session, "T001", "note", {"cashier": "A"}, AT)
        append_event(session, "T002", "note", {"cashier": "B"}, AT)
        append_event(session, "T001", "note", {"cashier": "A"}, AT)
    assert [e.seq for e in all_events(journal, "T001")] == [1, 2]
    assert [e.seq for e in all_events(journal, "T002")] == [1]
    assert all_events(journal, "T002")[0].prev_hash == GENESIS_HASH
    assert verify_chain(journal).ok


def test_a_rolled_back_transaction_leaves_no_gap(journal: Engine) -> None:
    with session_scope(journal) as session:
        append_event(session, TERMINAL, "note", {"cashier": "A"}, AT)
    with pytest.raises(RuntimeError), session_scope(journal) as session:
        append_event(session, TERMINAL, "note", {"cashier": "A"}, AT)
        raise RuntimeError("crash before commit")
    with session_scope(journal) as session:
        append_event(session, TERMINAL, "note", {"cashier": "A"}, AT)
    assert [e.seq for e in all_events(journal)] == [1, 2]
    assert verify_chain(journal).ok


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"n": 1}, "cashier"),
        ({"cashier": ""}, "cashier"),
        ({"cashier": "A", "amount": 12.3}, "floats"),
        ({"cashier": "A", "when": datetime(2026, 1, 1)}, "JSON value"),
        ({"cashier": "A", "nested": {1: "x"}}, "strings"),
    ],
)
def test_payload_rules(journal: Engine, payload: dict[str, Any], error: str) -> None:
    with pytest.raises((ValueError, TypeError), match=error), session_scope(journal) as session:
        append_event(session, TERMINAL, "note", payload, AT)
    assert all_events(journal) == []


def test_event_time_is_canonical_utc(journal: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    with session_scope(journal) as session:
        event = append_event(
            session, TERMINAL, "note", {"cashier": "A"}, datetime(2026, 11, 22, 18, 30, tzinfo=shanghai)
        )
    assert event.at_text == "2026-11-22T10:30:00.000000+00:00"
    assert event.at == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def test_upload_body_matches_the_engine_schema_and_rehashes(journal: Engine) -> None:
    wallet_sale(journal)
    (event,) = all_events(journal)
    uploaded = UploadedEvent.model_validate_json(json.dumps(event.as_upload()))
    assert (uploaded.seq, uploaded.kind, uploaded.prev_hash, uploaded.hash) == (
        1,
        "sale.started",
        GENESIS_HASH,
        event.hash,
    )
    # The engine can re-check the hash from what it received.
    at = uploaded.at.astimezone(UTC).isoformat(timespec="microseconds")
    assert (
        independent_hash(uploaded.seq, uploaded.kind, dict(uploaded.payload), at, uploaded.prev_hash) == uploaded.hash
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6), st.text(min_size=1, max_size=20))
def test_any_json_payload_hashes_and_verifies(journal: Engine, payload: dict[str, Any], kind: str) -> None:
    payload = {**payload, "cashier": "Alice"}
    with session_scope(journal) as session:
        event = append_event(session, TERMINAL, kind, payload, AT)
    assert event.payload == payload
    assert event.hash == independent_hash(event.seq, kind, payload, event.at_text, event.prev_hash)
    assert verify_chain(journal).ok
