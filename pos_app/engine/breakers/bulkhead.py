"""One gateway channel's bulkhead: a cap on its calls in flight, so a slow gateway holds only its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from pos_app.engine.providers.base import DefiniteFailure


class ChannelBusy(DefiniteFailure):
    """The engine did not call the gateway: the channel already carries as many calls as it may."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, code="CHANNEL_BUSY")


class Bulkhead:
    """At most ``limit`` calls at once. Payment creates wait briefly for a slot and then fail fast (a
    cashier is waiting); settling calls wait their turn (nobody is, and they must happen)."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self.in_flight = 0

    @contextlib.asynccontextmanager
    async def slot(self, *, wait_s: float | None, busy: str) -> AsyncIterator[None]:
        """Hold one slot for the ``async with`` block; with ``wait_s``, raise :class:`ChannelBusy`
        (``busy`` is its reason) if none frees up by then."""
        if wait_s is None:
            await self._slots.acquire()
        else:
            try:
                await asyncio.wait_for(self._slots.acquire(), wait_s)
            except TimeoutError:
                raise ChannelBusy(busy) from None
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()
