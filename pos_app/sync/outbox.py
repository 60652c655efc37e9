"""Drain the journal outbox to ``POST /v1/sync/batches``: in sequence order, at least once.

The engine answers the highest contiguous seq it holds for this terminal; everything up to it is
marked sent. Replays are harmless (the engine upserts by (terminal_id, seq)), so after a crash or a
lost answer the drain simply sends again from the first unacknowledged event.

While the engine is away the drain backs off exponentially with jitter, capped (tenacity). A refusal
(a gap or a fork in the chain, HTTP 409) is not retried quickly: it needs a person, so it is kept in
``status.error`` for the status bar and retried only at the capped interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from pos_app.api.schemas import JournalEvent as UploadEvent
from pos_app.api.schemas import SyncAck
from pos_app.domain.errors import EngineUnavailable, PosError
from pos_app.journal.models import OutboxEntry
from pos_app.journal.outbox import mark_sent, pending_outbox, unsent_count

log = logging.getLogger(__name__)

BATCH_SIZE = 200


class SyncTransport(Protocol):
    """What the drain needs from the engine client."""

    async def sync_batch(self, events: Sequence[UploadEvent], *, head_seq: int | None = None) -> SyncAck: ...


@dataclass
class SyncStatus:
    """What the terminal's status bar shows."""

    online: bool = False
    unsent: int = 0
    acked_seq: int = 0
    error: str | None = None  # the engine refused the chain (gap/fork): a person must look
    last_success: datetime | None = None
    caught_up: bool = field(default=False)


def requeue_above(session: Session, terminal_id: str, acked_seq: int) -> None:
    """Events above ``acked_seq`` that were marked sent go out again.

    This matters when the engine answers lower than what we had marked sent (its database was
    restored from a backup): it must receive them again.
    """
    session.execute(
        update(OutboxEntry)
        .where(col(OutboxEntry.terminal_id) == terminal_id, col(OutboxEntry.seq) > acked_seq)
        .where(col(OutboxEntry.sent_at).is_not(None))
        .values(sent_at=None)
    )


def journal_head(session: Session, terminal_id: str) -> int:
    """This till's newest journal seq (every event enters the outbox, and its rows are kept once sent)."""
    head = session.exec(select(func.max(OutboxEntry.seq)).where(col(OutboxEntry.terminal_id) == terminal_id)).one()
    return int(head or 0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ChainRefused(PosError):
    """The engine refused our events (a gap or a fork): retried slowly, shown to the manager."""


class OutboxDrain:
    def __init__(
        self,
        journal: Engine,
        transport: SyncTransport,
        terminal_id: str,
        *,
        batch_size: int = BATCH_SIZE,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._journal = journal
        # When an acknowledgement is recorded (``sent_at``): the till's own clock where it has one
        # (the demo chain drives past days on a simulated clock); the wall clock by default.
        self._clock = clock or _utcnow
        self._transport = transport
        self._terminal_id = terminal_id
        self._batch_size = batch_size
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self.status = SyncStatus()
        self.wake = asyncio.Event()

    def refresh_unsent(self) -> int:
        with Session(self._journal) as session:
            self.status.unsent = unsent_count(session, terminal_id=self._terminal_id)
        return self.status.unsent

    async def drain_once(self) -> int:
        """Send every unsent event, batch by batch. Returns how many were acknowledged.

        Raises EngineUnavailable when the engine cannot be reached, ChainRefused when it refuses.
        """
        acknowledged = 0
        previous_ack = -1
        while True:
            with Session(self._journal) as session:
                batch = pending_outbox(session, self._batch_size, terminal_id=self._terminal_id)
                head = journal_head(session, self._terminal_id)
            if not batch:
                break
            uploads = [UploadEvent.model_validate(event.as_upload()) for event in batch]
            try:
                ack = await self._transport.sync_batch(uploads, head_seq=head)
            except EngineUnavailable:
                self.status.online = False
                raise
            except PosError as exc:
                self.status.online = True
                self.status.error = exc.message
                raise ChainRefused(exc.message) from exc
            self.status.online = True
            self.status.error = None
            with Session(self._journal) as session:
                mark_sent(session, ack.acked_seq, terminal_id=self._terminal_id, at=self._clock())
                requeue_above(session, self._terminal_id, ack.acked_seq)
                session.commit()
            self.status.acked_seq = ack.acked_seq
            acknowledged += sum(1 for event in batch if event.seq <= ack.acked_seq)
            if ack.acked_seq < batch[-1].seq and ack.acked_seq <= previous_ack:
                # The engine did not move forward: stop here, the next round tries again.
                break
            # If the engine holds less than we sent, requeue_above re-queued the rest: loop resends it.
            previous_ack = ack.acked_seq
        self.status.last_success = self._clock()
        self.status.caught_up = self.refresh_unsent() == 0
        return acknowledged

    async def run(self, stop: asyncio.Event, *, idle_s: float = 2.0, settle_s: float = 0.0) -> None:
        """Drain forever: when woken (a new event), else every ``idle_s``; back off when away.

        ``settle_s`` > 0 waits, after a wake-up, until no new event has been written for that long:
        the journal writes of one payment come in a burst (intent, the engine's answer, the outcome),
        and a drain in the middle of it would compete with the payment itself for the terminal's CPU
        and the engine's — the cashier waits on the payment, nobody waits on the upload.
        """
        while not stop.is_set():
            await self._settle(stop, settle_s)
            retrying = AsyncRetrying(
                retry=retry_if_exception_type((EngineUnavailable, ChainRefused)),
                wait=wait_exponential_jitter(multiplier=self._initial_backoff_s, max=self._max_backoff_s),
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        if stop.is_set():
                            return
                        self.refresh_unsent()
                        await self.drain_once()
            except (EngineUnavailable, ChainRefused):  # pragma: no cover - tenacity never stops here
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=idle_s)

    async def _settle(self, stop: asyncio.Event, settle_s: float) -> None:
        """Return once ``settle_s`` passed without a wake-up (or at once when ``settle_s`` is 0)."""
        while settle_s > 0 and self.wake.is_set() and not stop.is_set():
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=settle_s)
