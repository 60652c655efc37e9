"""The queue both notification writers share: a request waits on a future while one task writes the
queued notifications batch by batch; each request learns its own notification's outcome.

What differs between SQLite's group commit and PostgreSQL's batches is how a batch is taken (in
which order, after which lock) and written; the queueing, the shutdown rule and the answers are
the same and live here once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from pos_app.domain.errors import PosError
from pos_app.engine.notify.writer import Outcome
from pos_app.engine.providers.base import Notification

Queued = tuple[Notification, bytes, "asyncio.Future[str]"]


class BatchQueue:
    """Queues notifications; one task drains them with :meth:`take` and :meth:`write`."""

    task_name = "pos-notify-writer"

    def __init__(self, on_commit: Callable[[], None]) -> None:
        self._on_commit = on_commit
        self._queue: list[Queued] = []
        self._task: asyncio.Task[None] | None = None

    async def store(self, n: Notification, body: bytes) -> str:
        """The notification's outcome once its batch committed (raises if it was not stored)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._queue.append((n, body, future))
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._drain(), name=self.task_name)
        return await future

    async def aclose(self) -> None:
        """Let the queued notifications commit."""
        task = self._task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            await asyncio.gather(task, return_exceptions=True)

    async def take(self) -> list[Queued]:
        """The next batch, removed from the queue (may wait, e.g. for another process's turn)."""
        raise NotImplementedError

    async def write(self, items: Sequence[tuple[Notification, bytes]]) -> list[Outcome]:
        """Write one batch: an outcome (or the exception) per notification, in order."""
        raise NotImplementedError

    def taken(self, batch: list[Queued]) -> None:
        """Called once a batch is over, written or not (e.g. to give a lock back)."""

    async def _drain(self) -> None:
        while self._queue:
            batch: list[Queued] = []
            results: list[Outcome]
            try:
                batch = await self.take()
                results = await self.write([(n, body) for n, body, _ in batch])
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
                self.taken(batch)
                self._on_commit()
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():  # the request went away meanwhile
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
