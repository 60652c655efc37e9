"""PostgreSQL's notification writer: the notifications arriving while a batch is written share the next
transaction (one commit), each batch in a worker thread.

The server commits concurrent transactions in parallel, but one transaction per notification cost a
thread hop, a session and six round trips each, and capped two workers at a few hundred a second. A
batch is written by :class:`~pos_app.engine.notify.writer.NotificationWriter` (one transaction, or
one by one if it fails), in ``out_trade_no`` order (stable: a payment's own notifications keep their
order): two workers' batches then lock the payments they share in the same order and never deadlock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from pos_app.engine.notify.batch_queue import BatchQueue, Queued
from pos_app.engine.notify.writer import NotificationWriter, Outcome
from pos_app.engine.providers.base import Notification

#: Notifications written in one transaction at most.
BATCH = 128


class BatchingWriter(BatchQueue):
    """Queues notifications; one task writes them batch by batch, each batch in a worker thread."""

    task_name = "pos-notify-batches"

    def __init__(self, writer: NotificationWriter, on_commit: Callable[[], None]) -> None:
        super().__init__(on_commit)
        self._writer = writer

    async def take(self) -> list[Queued]:
        batch = sorted(self._queue[:BATCH], key=lambda item: item[0].out_trade_no or "")
        del self._queue[:BATCH]
        return batch

    async def write(self, items: Sequence[tuple[Notification, bytes]]) -> list[Outcome]:
        return await asyncio.to_thread(self._writer.write, list(items))
