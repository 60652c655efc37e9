"""Status events for the terminals' event stream: the events since an id, or a wait for the next one."""

from __future__ import annotations

import asyncio
import contextlib

from pos_app.api.schemas import PaymentEvent
from pos_app.engine.context import EngineContext
from pos_app.engine.store import repo

#: Changes made by other engine processes are seen by re-reading this often (seconds).
_REREAD_S = 1.0


class Events:
    """Reads a terminal's status events; wakes on this process's changes, re-reads for the others'."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def events_since(self, terminal_id: str, last_event_id: int, limit: int = 100) -> list[PaymentEvent]:
        return await self._ctx.tx.read(repo.events_since, terminal_id, last_event_id, limit)

    async def wait_for_events(
        self, terminal_id: str, last_event_id: int, timeout: float, *, limit: int = 100
    ) -> list[PaymentEvent]:
        """Events after ``last_event_id``, waiting up to ``timeout`` s for one (empty list on timeout).

        Woken at once by changes made in this process; changes made by other engine processes are
        seen by re-reading the table every second.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._ctx.wakeup.signal()  # taken before reading so that no change slips in between
            events = await self.events_since(terminal_id, last_event_id, limit)
            remaining = deadline - loop.time()
            if events or remaining <= 0:
                return events
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout=min(remaining, _REREAD_S))
