"""Wakes this process's event streams when another engine process wrote a status event.

A process wakes its own streams as it commits (``context.Wakeup``); changes committed by another
worker would otherwise be seen only at the streams' next re-read (``events._REREAD_S``). One cheap
indexed read of the newest event id per ``WATCH_S``, for the whole process (not per stream), turns
that into a wake-up within ``WATCH_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import func
from sqlmodel import Session, select

from pos_app.engine.context import EngineContext
from pos_app.engine.store.models import StatusEvent

log = logging.getLogger(__name__)

#: How often each worker looks for status events written by the other workers (seconds).
WATCH_S = 0.05


def latest_event_id(session: Session) -> int:
    return int(session.exec(select(func.max(StatusEvent.id))).one() or 0)


async def watch_events(ctx: EngineContext, stop: asyncio.Event, interval: float = WATCH_S) -> None:
    """Until ``stop``: wake the streams whenever the newest status event id grew."""
    seen: int | None = None
    while not stop.is_set():
        try:
            latest = await ctx.tx.read(latest_event_id)
        except Exception:
            log.warning("could not read the newest status event", exc_info=True)
        else:
            if seen is not None and latest > seen:
                ctx.wakeup.wake()
            seen = latest
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
