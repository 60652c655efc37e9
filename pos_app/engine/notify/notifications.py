"""The notification use case: answer a gateway's callback, and apply what was recorded but not applied."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping

from pos_app.domain.routing import Channel
from pos_app.engine.context import EngineContext
from pos_app.engine.notify import pipeline
from pos_app.engine.notify.batches import BatchingWriter
from pos_app.engine.notify.checks import FLAGGED
from pos_app.engine.notify.group_commit import GroupCommitWriter
from pos_app.engine.notify.records import RECHECK_INBOX_AFTER, notification_from_record, recorded_unapplied
from pos_app.engine.notify.writer import NotificationWriter
from pos_app.engine.notify.writer_lock import ledger_writer_lock
from pos_app.engine.providers.base import Notification, NotificationAck
from pos_app.engine.store.db import is_sqlite

log = logging.getLogger(__name__)


class Notifications:
    """Verified notifications stored (recorded + applied + marked in one commit) and acknowledged."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self._flagged: Counter[str] = Counter()
        ledger = ctx.tx.ledger
        self._writer = NotificationWriter(ledger, ctx.clock)
        # SQLite: one writer, one fsync per commit — notifications arriving together share one.
        # PostgreSQL: likewise batched, one transaction per batch in a worker thread (``batches``).
        self._group_commit = None
        self._batches = None
        if is_sqlite(ledger):
            # Several workers on one ledger file: their batches queue on a lock file, not SQLite's busy handler.
            across = ledger_writer_lock(ledger.url.database) if ctx.settings.engine.workers > 1 else None
            self._group_commit = GroupCommitWriter(
                ledger, ctx.clock, self._writer, ctx.wakeup.wake, across_processes=across
            )
        else:
            self._batches = BatchingWriter(self._writer, ctx.wakeup.wake)

    @property
    def group_commit(self) -> GroupCommitWriter | None:
        """SQLite's group-commit writer (None on PostgreSQL)."""
        return self._group_commit

    @property
    def batches(self) -> BatchingWriter | None:
        """PostgreSQL's batching notification writer (None on SQLite)."""
        return self._batches

    async def handle_notification(self, channel: Channel, headers: Mapping[str, str], body: bytes) -> NotificationAck:
        """POST /notify/<channel>: verify, then record + apply in one committed transaction, then the
        exact answer the gateway expects."""
        return await pipeline.process(
            channel=channel,
            provider=self._ctx.providers.get(channel),
            headers=headers,
            body=body,
            max_body_bytes=self._ctx.settings.engine.max_notify_body_bytes,
            store=self.store,
        )

    def flagged_counts(self) -> dict[str, int]:
        """Notifications this process kept for attention instead of applying them, by channel."""
        return dict(self._flagged)

    async def store(self, n: Notification, body: bytes) -> str:
        """Record, apply and mark a verified notification in ONE transaction; returns once committed."""
        outcome = await self._store(n, body)
        if outcome == FLAGGED:
            self._flagged[n.channel.value] += 1
        return outcome

    async def _store(self, n: Notification, body: bytes) -> str:
        if self._group_commit is not None:
            return await self._group_commit.store(n, body)
        assert self._batches is not None
        return await self._batches.store(n, body)

    async def apply_recorded(self) -> None:
        """Apply the notifications recorded but left un-applied (the resolver calls this)."""
        received_before = self._ctx.now() - RECHECK_INBOX_AFTER
        for row in await self._ctx.tx.read(recorded_unapplied, received_before):
            # Applied and marked in one transaction (the row exists: only the apply part runs).
            try:
                await self.store(notification_from_record(row), row.body.encode())
            except Exception:
                log.exception("resolver: applying notification %s failed", row.event_id)

    async def aclose(self) -> None:
        if self._group_commit is not None:
            await self._group_commit.aclose()
        if self._batches is not None:
            await self._batches.aclose()
