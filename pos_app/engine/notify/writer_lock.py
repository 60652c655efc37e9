"""One notification writer at a time across the engine's worker processes on one SQLite ledger.

SQLite has one write lock per database; a process that finds it taken waits in SQLite's busy
handler, which sleeps in growing steps (up to 100 ms each) and re-tries, so with several workers
writing notification batches one after another, a batch often slept long after the lock was free
(p99 latency 250 ms with two workers). An exclusive ``flock`` on a file beside the ledger, held from
BEGIN IMMEDIATE to COMMIT (the fsync) of each batch, queues the workers' batches in the kernel
instead: the next waiting worker wakes the moment the previous batch committed, and meanwhile it
gathers more notifications into its own batch (group commit across processes). SQLite's own lock
still guards every write (other writers, such as the resolver, do not take this one).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class WriterLock:
    """An exclusive, cross-process lock on ``path`` (created 0600). Not re-entrant."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def try_acquire(self) -> bool:
        """Take it if no other process holds it; never waits (may run on the event loop)."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> None:
        """Wait for it (in a worker thread: this blocks)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def ledger_writer_lock(database: str | None) -> WriterLock | None:
    """The lock beside a SQLite ledger file (None for an in-memory ledger)."""
    if not database or database == ":memory:":
        return None
    return WriterLock(Path(database).expanduser().with_name(Path(database).name + "-notify.lock"))
