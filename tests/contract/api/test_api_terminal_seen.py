"""Issue 17: the engine records when a till last made a signed request, the version its User-Agent
names, and its newest journal seq (from sync batches) — what the console's Terminals page shows."""

from __future__ import annotations

import time
from importlib import metadata

from api_support import TERMINAL, Stack
from test_api_sync import chain

from pos_app.api.client import EngineClient
from pos_app.console.terminals import tills
from pos_app.engine.store.terminals import Terminal

DEADLINE_S = 10.0


def _row(stack: Stack) -> Terminal:
    row = stack.registry.terminal(TERMINAL)
    assert row is not None
    return row


def _wait_seen(stack: Stack) -> Terminal:
    """The "last seen" write runs beside the request: poll for it with a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while (row := _row(stack)).last_seen_at is None:
        assert time.monotonic() < deadline, "last_seen_at was never written"
        time.sleep(0.02)
    return row


async def test_a_signed_request_records_last_seen_and_version(stack: Stack, client: EngineClient) -> None:
    assert _row(stack).last_seen_at is None and _row(stack).version is None  # activation is not signed
    before = stack.registry.clock()
    await client.sync_batch([])
    first = _wait_seen(stack)
    assert first.version == metadata.version("pos-app")
    assert first.last_seen_at is not None
    assert before <= first.last_seen_at <= stack.registry.clock()
    # Within the flush interval a second request is only noted in memory: no ledger write on its path ...
    await client.sync_batch([])
    assert _row(stack).last_seen_at == first.last_seen_at
    # ... and a forced flush (as at shutdown) writes the newer moment.
    assert stack.registry.seen.flush() == 1
    later = _row(stack).last_seen_at
    assert later is not None and later > first.last_seen_at
    assert stack.registry.seen.flush() == 0  # nothing new since


async def test_a_sync_batch_with_head_seq_gives_the_unsent_count(stack: Stack, client: EngineClient) -> None:
    events = chain(5)
    await client.sync_batch(events[:2])  # an older till: no head_seq
    assert _row(stack).journal_head_seq is None
    assert tills(stack.registry.engine, None)[0].unsent is None
    await client.sync_batch(events[2:3], head_seq=5)
    (row,) = tills(stack.registry.engine, None)
    assert (row.journal_seq, row.unsent) == (3, 2)
    await client.sync_batch(events[3:], head_seq=5)
    assert tills(stack.registry.engine, None)[0].unsent == 0
    await client.sync_batch([], head_seq=4)  # a late, crossed batch never lowers the head
    assert _row(stack).journal_head_seq == 5
