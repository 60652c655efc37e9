"""One simulated clock shared by the engine, the sandbox, the tills and their engine client.

The engine (``clock=``), the sandbox (``clock=``), the till core (``clock=``) and the till's request
signer (``EngineClient(clock=)``) each already take a clock; giving them the same one keeps every
timestamp check between them (the 300 s signature window, notification freshness, QR lifetimes,
refund settling) as it is in production. The clock is set to the moment of each operation of the
simulated day and then flows at real speed, because the parts still wait on each other in real time
(the sandbox's ticker, the notifier, the till polling for PAID). It never goes back.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SimClock:
    """A settable clock that flows at real speed from the last moment it was set to."""

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._base = start.timestamp()
        self._anchor = time.monotonic()

    def unix(self) -> float:
        """Unix seconds (the till's request signer, ``EngineClient(clock=)``)."""
        with self._lock:
            return self._base + (time.monotonic() - self._anchor)

    def now(self) -> float:
        """Unix seconds: the sandbox's :class:`pos_app.sandbox.clock.Clock` protocol."""
        return self.unix()

    def utc(self) -> datetime:
        """An aware UTC datetime (the engine's and the till's clocks)."""
        return datetime.fromtimestamp(self.unix(), UTC)

    def move_to(self, when: datetime) -> None:
        """Jump forward to ``when``; a moment already passed leaves the clock where it is (monotonic)."""
        target = when.timestamp()
        with self._lock:
            current = self._base + (time.monotonic() - self._anchor)
            if target > current:
                self._base, self._anchor = target, time.monotonic()

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass at once (a refund settling, a customer walking up)."""
        with self._lock:
            self._base += seconds
