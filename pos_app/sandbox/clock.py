"""The sandbox's notion of time, injectable so tests (and the clock-skew fault) control it.

Every sandbox module asks a :class:`Clock` for ``now()`` (Unix seconds, float) instead of calling
``time.time()``; tests pass a :class:`ManualClock` and move it forward by hand.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from pos_app.domain.china_time import CHINA_TZ

#: Both gateways write local times in China Standard Time (UTC+8, no daylight saving).


class Clock(Protocol):
    def now(self) -> float:
        """Unix time in seconds."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to (tests). Thread-safe."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when


def china_time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC).astimezone(CHINA_TZ)


def rfc3339_china(ts: float) -> str:
    """``2024-05-20T13:29:35+08:00``, the format of every WeChat Pay time field."""
    return china_time(ts).replace(microsecond=0).isoformat()


def china_datetime_text(ts: float) -> str:
    """``2024-05-20 13:29:35`` (China time), as bills and Alipay write times."""
    return china_time(ts).strftime("%Y-%m-%d %H:%M:%S")


def china_date_text(ts: float) -> str:
    return china_time(ts).strftime("%Y-%m-%d")
