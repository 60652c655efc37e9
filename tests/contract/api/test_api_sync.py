"""POST /v1/sync/batches: upsert by (terminal, seq), replays harmless, gaps and forks refused (409)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_support import STORE, Stack

from pos_app.api.client import EngineClient, SyncRejected
from pos_app.api.schemas import JournalEvent
from pos_app.domain.chain import GENESIS_HASH, event_hash, utc_text

GENESIS = GENESIS_HASH


def chain(n: int, *, start_hash: str = GENESIS, first_seq: int = 1, salt: str = "") -> list[JournalEvent]:
    events, prev = [], start_hash
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    for seq in range(first_seq, first_seq + n):
        payload: dict[str, object] = {"sale": seq, "amount_fen": seq * 100, "note": salt, "cashier": "Li"}
        when = at + timedelta(seconds=seq)
        # The journal's own scheme (pos_app.domain.chain): the engine recomputes every hash.
        digest = event_hash(seq=seq, kind="sale", payload=payload, at=utc_text(when), prev_hash=prev)
        events.append(JournalEvent(seq=seq, kind="sale", payload=payload, at=when, prev_hash=prev, hash=digest))
        prev = digest
    return events


async def test_batches_are_stored_in_order_and_replays_are_harmless(stack: Stack, client: EngineClient) -> None:
    events = chain(6)
    assert (await client.sync_batch(events[:3])).acked_seq == 3
    assert (await client.sync_batch(events[:3])).acked_seq == 3  # replay after a lost answer
    assert (await client.sync_batch(events[1:6])).acked_seq == 6  # overlap + new
    assert (await client.sync_batch(list(reversed(events)))).acked_seq == 6  # any order within a batch
    assert (await client.sync_batch([])).acked_seq == 6
    assert stack.registry.acked_seq("T001") == 6


async def test_a_gap_is_refused_and_nothing_of_the_batch_is_kept(stack: Stack, client: EngineClient) -> None:
    events = chain(8)
    await client.sync_batch(events[:3])
    with pytest.raises(SyncRejected) as info:
        await client.sync_batch([events[3], events[5]])  # 4 ok, 5 missing, 6
    assert info.value.status_code == 409
    assert "5..5 are missing" in info.value.message and "send again from 4" in info.value.message
    assert (await client.sync_batch([])).acked_seq == 3  # event 4 of the refused batch was not kept
    with pytest.raises(SyncRejected, match="send again from 4"):
        await client.sync_batch(events[4:])
    assert (await client.sync_batch(events[3:])).acked_seq == 8


async def test_a_fork_is_refused(stack: Stack, client: EngineClient) -> None:
    events = chain(4)
    await client.sync_batch(events)
    edited = chain(4, salt="edited")
    with pytest.raises(SyncRejected, match="differs from the copy"):
        await client.sync_batch(edited[2:3])
    # A next event that does not chain onto what the engine holds.
    stray = chain(1, start_hash="f" * 64, first_seq=5)
    with pytest.raises(SyncRejected, match="hash chain broken"):
        await client.sync_batch(stray)
    assert (await client.sync_batch(chain(5)[4:])).acked_seq == 5


async def test_an_event_whose_content_does_not_give_its_hash_is_refused(stack: Stack, client: EngineClient) -> None:
    events = chain(3)
    await client.sync_batch(events[:1])
    # Linkage intact (prev_hash and hash copied), content edited: only recomputing the hash sees it.
    edited = events[1].model_copy(update={"payload": {**events[1].payload, "amount_fen": 1}})
    with pytest.raises(SyncRejected, match="does not match its hash") as info:
        await client.sync_batch([edited, events[2]])
    assert info.value.status_code == 409
    moved = events[1].model_copy(update={"at": events[1].at + timedelta(microseconds=1)})
    with pytest.raises(SyncRejected, match="does not match its hash"):
        await client.sync_batch([moved])
    assert (await client.sync_batch([])).acked_seq == 1
    assert (await client.sync_batch(events[1:])).acked_seq == 3


async def test_the_first_event_must_start_from_genesis(stack: Stack, client: EngineClient) -> None:
    with pytest.raises(SyncRejected, match="hash chain broken"):
        await client.sync_batch(chain(2, start_hash="a" * 64))
    assert (await client.sync_batch(chain(2))).acked_seq == 2


async def test_events_written_by_the_real_journal_are_accepted(
    stack: Stack, client: EngineClient, tmp_path: Path
) -> None:
    from pos_app import journal
    from pos_app.journal.verify import verify_chain

    engine = journal.open_journal(tmp_path / "journal.db")
    at = datetime(2026, 11, 22, 9, 30, 0, 123456, tzinfo=UTC)
    with journal.session_scope(engine) as session:
        for n in range(5):
            journal.record_cash_sale(
                session,
                terminal_id="T001",
                store_id=STORE,
                cashier="王小明",
                subject=f"茶 {n}",
                at=at + timedelta(minutes=n),
                amount_fen=100 + n,
                tendered_fen=1000,
            )
    with journal.session_scope(engine) as session:
        assert verify_chain(session).ok
        uploads = [JournalEvent.model_validate(e.as_upload()) for e in journal.pending_outbox(session, 100)]
    assert len(uploads) >= 5
    assert (await client.sync_batch(uploads)).acked_seq == uploads[-1].seq
    engine.dispose()


async def test_terminals_have_separate_sequences(stack: Stack, client: EngineClient) -> None:
    await client.sync_batch(chain(3))
    async with stack.client("T002") as other:
        await other.activate(stack.new_code(), STORE, "T002", "Till 2")
        assert (await other.sync_batch([])).acked_seq == 0
        assert (await other.sync_batch(chain(2, salt="t2"))).acked_seq == 2
    assert (await client.sync_batch([])).acked_seq == 3


async def test_a_batch_over_1000_events_is_refused_as_input(stack: Stack, client: EngineClient) -> None:
    from pos_app.api.schemas import SyncBatch
    from pos_app.domain.errors import InputError

    events = chain(1001)
    with pytest.raises(ValueError):
        SyncBatch(events=events)  # the client cannot even build it
    import httpx

    body = json.dumps({"events": [e.model_dump(mode="json") for e in events]}).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url="http://e") as raw:
        response = await raw.post(
            "/v1/sync/batches", content=body, auth=client._auth(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert issubclass(InputError, Exception)
