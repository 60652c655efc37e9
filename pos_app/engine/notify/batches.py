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
from collections.abc import Callable

from pos_app.domain.errors import PosError
from pos_app.engine.notify.writer import NotificationWriter, Outcome
from pos_app.engine.providers.base import Notification

#: Notifications written in one transaction at most.
BATCH = 128


class BatchingWriter:
    """Queues notifications; one task writes them batch by batch, each batch in a worker thread."""

    def __init__(self, writer: NotificationWriter, on_commit: Callable[[], None]) -> None:
        self._writer = writer
        self._on_commit = on_commit
        self._queue: list[tuple[Notification, bytes, asyncio.Future[str]]] = []
        self._task: asyncio.Task[None] | None = None

    async def store(self, n: Notification, body: bytes) -> str:
        """The notification's outcome once its batch committed (raises if it was not stored)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._queue.append((n, body, future))
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._drain(), name="pos-notify-batches")
        return await future

    async def aclose(self) -> None:
        """Let the queued notifications commit."""
        task = self._task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            await asyncio.gather(task, return_exceptions=True)

    async def _drain(self) -> None:
        while self._queue:
            batch = sorted(self._queue[:BATCH], key=lambda item: item[0].out_trade_no or "")
            del self._queue[:BATCH]
            results: list[Outcome]
            try:
                results = await asyncio.to_thread(self._writer.write, [(n, body) for n, body, _ in batch])
            except Exception as exc:  # nobody in this batch is acknowledged; the gateway sends again
                results = [exc] * len(batch)
            except BaseException:  # cancelled (shutdown): nobody waiting is acknowledged
                stopped = PosError("The engine is stopping.")
                for _, _, future in batch + self._queue:
                    if not future.done():
                        future.set_exception(stopped)
                self._queue.clear()
                raise
            finally:
                self._on_commit()
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
