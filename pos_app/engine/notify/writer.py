"""Writes verified notifications: one transaction per batch in a worker thread, one by one if it fails.

This is the whole writer on PostgreSQL (the server commits concurrent transactions in parallel, so
each notification is its own transaction) and the fallback of SQLite's group commit. A notification
whose apply keeps failing is recorded un-applied in the inbox for the resolver, and its error is
returned instead of an outcome (the gateway is not acknowledged and sends it again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from pos_app.engine.context import Clock
from pos_app.engine.notify.apply import Item, apply_notifications
from pos_app.engine.notify.records import insert_inbox
from pos_app.engine.providers.base import Notification
from pos_app.engine.store.transactions import MUTATE_TRIES, StaleRow

log = logging.getLogger(__name__)

#: Per notification: its outcome, or the error that kept it from being applied.
Outcome = str | Exception


class NotificationWriter:
    """Synchronous (worker-thread) writes of notification batches."""

    def __init__(self, ledger: Engine, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    def write(self, items: Sequence[Item]) -> list[Outcome]:
        """One transaction for the whole batch; if it fails, each item on its own."""
        if len(items) > 1:
            try:
                return list(self._transaction(items))
            except Exception:
                log.warning("a batch of %d notifications failed; writing them one by one", len(items), exc_info=True)
        return [self.write_one(n, body) for n, body in items]

    def write_one(self, n: Notification, body: bytes) -> Outcome:
        """One notification in its own transaction, again after a lost race or a deadlock."""
        error: Exception | None = None
        for _ in range(MUTATE_TRIES):
            try:
                return self._transaction([(n, body)])[0]
            except (StaleRow, IntegrityError, OperationalError) as exc:
                error = exc
            except Exception as exc:
                error = exc
                break
        # The apply failed: keep the verified notification in the inbox, un-applied, for the resolver.
        try:
            with Session(self._ledger) as session:
                insert_inbox(session.connection(), n, body, self._clock())
                session.commit()
        except Exception:
            log.warning("notification %s could not be recorded either", n.event_id, exc_info=True)
        assert error is not None
        return error

    def _transaction(self, items: Sequence[Item]) -> list[str]:
        """The items applied (:func:`apply_notifications`) in one transaction, then ONE commit."""
        with Session(self._ledger, expire_on_commit=False) as session:
            conn = session.connection()  # BEGIN IMMEDIATE on SQLite: one writer from here to commit
            outcomes = apply_notifications(session, conn, items, self._clock)
            session.commit()
        return outcomes
