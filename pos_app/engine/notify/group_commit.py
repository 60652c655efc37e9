"""SQLite's notification writer: the notifications arriving together share one transaction and commit.

SQLite has one writer and one fsync per commit, so the notifications arriving while a commit is in
progress are queued and written together in the next transaction; each caller awaits its batch's
commit before its notification is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from pos_app.engine.context import Clock
from pos_app.engine.notify.apply import Item, apply_notifications
from pos_app.engine.notify.batch_queue import BatchQueue, Queued
from pos_app.engine.notify.writer import NotificationWriter, Outcome
from pos_app.engine.notify.writer_lock import WriterLock
from pos_app.engine.store.db import SQLITE_BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

#: Notifications written in one transaction at most.
BATCH = 128


def _commit(session: Session, began: Connection | None) -> None:
    """(Worker thread.) Commit a batch: the session's own transaction, or the one
    :meth:`GroupCommitWriter.begin_if_free` began on ``began`` (after flushing the session's ORM work)."""
    if began is None:
        session.commit()
    else:
        session.flush()
        began.commit()


async def _acquire(lock: WriterLock) -> None:
    """Take ``lock``, waiting in a worker thread if another process holds it. If this task is
    cancelled while the thread waits, the lock is given back as soon as the thread got it."""
    if lock.try_acquire():
        return
    waiting = asyncio.ensure_future(asyncio.to_thread(lock.acquire))
    try:
        await asyncio.shield(waiting)
    except asyncio.CancelledError:
        waiting.add_done_callback(lambda _: lock.release())
        raise


class GroupCommitWriter(BatchQueue):
    """Queues notifications and commits them batch by batch from one writer task."""

    def __init__(
        self,
        ledger: Engine,
        clock: Clock,
        fallback: NotificationWriter,
        on_commit: Callable[[], None],
        *,
        across_processes: WriterLock | None = None,
    ) -> None:
        super().__init__(on_commit)
        self._ledger = ledger
        #: With several engine workers on this ledger: one batch at a time across them (``writer_lock``).
        self._across = across_processes
        self._clock = clock
        self._fallback = fallback

    async def aclose(self) -> None:
        """Let the queued notifications commit."""
        await super().aclose()
        if self._across is not None:
            self._across.close()

    async def take(self) -> list[Queued]:
        if self._across is not None:
            # Another worker's batch may be being written: the queue grows meanwhile, and the batch
            # is taken once this worker may write (one bigger batch, one commit).
            await _acquire(self._across)
        batch = self._queue[:BATCH]
        del self._queue[:BATCH]
        return batch

    def taken(self, batch: list[Queued]) -> None:
        if self._across is not None and batch:
            self._across.release()

    async def write(self, items: Sequence[Item]) -> list[Outcome]:
        return await self.write_batch(items)

    async def write_batch(self, items: Sequence[Item]) -> list[Outcome]:
        """One SQLite transaction for the batch: BEGIN IMMEDIATE (which may wait for another writer)
        and COMMIT (the fsync) in a worker thread, the statements in between on the event loop (they
        cannot wait: this transaction holds the write lock). Running them in a worker thread instead
        made them queue for the GIL behind the requests being parsed, several times their CPU time.
        If anything fails, each notification is written on its own in a worker thread.

        When no other writer holds SQLite's write lock, the BEGIN IMMEDIATE runs right here instead
        (:meth:`begin_if_free`, which never waits): the batches follow one another, and each hop to a
        worker thread costs milliseconds under load (the thread waits for the GIL and then for the
        loop to take its answer), so two hops per batch, not the CPU, capped the notifications per
        second. The COMMIT (the fsync) always runs in a worker thread."""
        began = self.begin_if_free()
        session = Session(began if began is not None else self._ledger, expire_on_commit=False)
        try:
            conn = began if began is not None else await asyncio.to_thread(session.connection)
            outcomes: list[Outcome] = list(apply_notifications(session, conn, items, self._clock))
            await asyncio.to_thread(_commit, session, began)
            return outcomes
        except Exception:
            log.warning("a batch of %d notifications failed; writing them one by one", len(items), exc_info=True)
        finally:
            session.close()  # the connection back to the pool (no transaction left open: instant)
            if began is not None:
                began.close()
        return await asyncio.to_thread(lambda: [self._fallback.write_one(n, body) for n, body in items])

    def begin_if_free(self) -> Connection | None:
        """A connection in a BEGIN IMMEDIATE transaction if SQLite's write lock is free right now;
        None (nothing begun) if another connection or process holds it. Never waits: the busy
        timeout is 0 for that one statement, so this may run on the event loop."""
        conn = self._ledger.connect()
        try:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None
            dbapi.execute("PRAGMA busy_timeout=0")
            try:
                conn.begin()
            finally:
                dbapi.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        except OperationalError:  # "database is locked": the caller begins in a thread, waiting there
            conn.close()
            return None
        except BaseException:
            conn.close()
            raise
        return conn
