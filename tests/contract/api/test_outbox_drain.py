"""The terminal's outbox drain against the real engine app: in order, at least once, replays harmless."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_support import STORE, TERMINAL, Stack
from sqlalchemy import Engine

from pos_app.api.client import EngineClient
from pos_app.api.schemas import JournalEvent as UploadEvent
from pos_app.api.schemas import SyncAck
from pos_app.domain.errors import EngineUnavailable
from pos_app.journal.cash import record_cash_sale
from pos_app.journal.db import open_journal, session_scope
from pos_app.journal.outbox import unsent_count
from pos_app.sync.outbox import ChainRefused, OutboxDrain, requeue_above


def _journal_with_sales(path: Path, n: int, *, terminal: str = TERMINAL, note: str = "") -> Engine:
    journal = open_journal(path)
    start = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    for i in range(n):
        with session_scope(journal) as session:
            record_cash_sale(
                session,
                terminal_id=terminal,
                store_id=STORE,
                cashier="Ann",
                subject=f"cash sale {i}{note}",
                at=start + timedelta(minutes=i),
                amount_fen=100 * (i + 1),
            )
    return journal


def _unsent(journal: Engine) -> int:
    with session_scope(journal) as session:
        return unsent_count(session, terminal_id=TERMINAL)


async def test_drain_sends_everything_in_order_and_replays_are_harmless(
    stack: Stack, client: EngineClient, tmp_path: Path
) -> None:
    journal = _journal_with_sales(tmp_path / "journal.sqlite3", 250)
    assert _unsent(journal) == 250
    drain = OutboxDrain(journal, client, TERMINAL, batch_size=100)
    assert await drain.drain_once() == 250
    assert _unsent(journal) == 0
    assert drain.status.caught_up and drain.status.online and drain.status.acked_seq == 250
    assert stack.registry.acked_seq(TERMINAL) == 250

    # A lost answer: the terminal believes nothing was sent and sends it all again.
    with session_scope(journal) as session:
        requeue_above(session, TERMINAL, 0)
    assert _unsent(journal) == 250
    await drain.drain_once()
    assert _unsent(journal) == 0 and stack.registry.acked_seq(TERMINAL) == 250


async def test_engine_behind_what_we_sent_gets_the_rest_again(
    stack: Stack, client: EngineClient, tmp_path: Path
) -> None:
    journal = _journal_with_sales(tmp_path / "journal.sqlite3", 5)
    drain = OutboxDrain(journal, client, TERMINAL)
    await drain.drain_once()
    # Five more sales; the drain then meets an engine that holds all ten.
    with session_scope(journal) as session:
        for i in range(5):
            record_cash_sale(
                session,
                terminal_id=TERMINAL,
                store_id=STORE,
                cashier="Ann",
                subject="more",
                at=datetime(2026, 11, 22, 12, i, tzinfo=UTC),
                amount_fen=50,
            )
    assert _unsent(journal) == 5
    assert await drain.drain_once() == 5
    assert stack.registry.acked_seq(TERMINAL) == 10


async def test_unreachable_engine_changes_nothing(stack: Stack, client: EngineClient, tmp_path: Path) -> None:
    journal = _journal_with_sales(tmp_path / "journal.sqlite3", 3)
    key = client._key  # the activated terminal's key, reused by a client pointed at nothing
    async with EngineClient("http://127.0.0.1:9", TERMINAL, key, timeout=1.0) as offline:
        drain = OutboxDrain(journal, offline, TERMINAL)
        with pytest.raises(EngineUnavailable):
            await drain.drain_once()
        assert not drain.status.online
    assert _unsent(journal) == 3
    assert stack.registry.acked_seq(TERMINAL) == 0


async def test_a_forked_journal_is_refused_and_shown(stack: Stack, client: EngineClient, tmp_path: Path) -> None:
    first = _journal_with_sales(tmp_path / "a.sqlite3", 3)
    await OutboxDrain(first, client, TERMINAL).drain_once()
    # Another journal file claiming to be the same terminal (a restored or copied till).
    other = _journal_with_sales(tmp_path / "b.sqlite3", 4, note=" (copy)")
    drain = OutboxDrain(other, client, TERMINAL)
    with pytest.raises(ChainRefused):
        await drain.drain_once()
    assert drain.status.error and drain.status.online
    assert stack.registry.acked_seq(TERMINAL) == 3


class _CutAfterOneBatch:
    """The real client for one batch, then the link drops (the drain stops with events still unsent)."""

    def __init__(self, client: EngineClient) -> None:
        self._client = client
        self.heads: list[int | None] = []

    async def sync_batch(self, events: Sequence[UploadEvent], *, head_seq: int | None = None) -> SyncAck:
        self.heads.append(head_seq)
        if len(self.heads) > 1:
            raise EngineUnavailable("link cut")
        return await self._client.sync_batch(events, head_seq=head_seq)


async def test_each_batch_names_the_journal_head_so_the_engine_knows_what_is_unsent(
    stack: Stack, client: EngineClient, tmp_path: Path
) -> None:
    journal = _journal_with_sales(tmp_path / "journal.sqlite3", 5)
    link = _CutAfterOneBatch(client)
    with pytest.raises(EngineUnavailable):
        await OutboxDrain(journal, link, TERMINAL, batch_size=2).drain_once()
    assert link.heads == [5, 5]
    row = stack.registry.terminal(TERMINAL)
    assert row is not None and row.journal_head_seq == 5
    assert stack.registry.acked_seq(TERMINAL) == 2  # 3 of the till's 5 events are still unsent
    assert _unsent(journal) == 3
