"""Per-terminal request limits (``[engine] rate_limit``), kept in this process's memory by ``limits``.

A moving window per terminal and per configured rate (e.g. 20 a second and 600 a minute). Several
engine processes behind a load balancer each count their own share: the limit is a guard against a
runaway till, not an accounting, so it need not be shared through the database.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from pos_app.domain.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request may go on, and if not, how many whole seconds until it may."""

    allowed: bool
    retry_after_s: int = 0


class TerminalRateLimits:
    """Counts each terminal's requests against every configured rate."""

    def __init__(self, spec: str) -> None:
        try:
            self._items: list[RateLimitItem] = parse_many(spec) if spec.strip() else []
        except ValueError:
            raise ConfigError(
                f'[engine] rate_limit {spec!r} is not a rate — write it like "20/second;600/minute" (empty: off).'
            ) from None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @property
    def enabled(self) -> bool:
        return bool(self._items)

    def hit(self, terminal_id: str) -> Verdict:
        """Count one request of ``terminal_id``; refused if any rate is already used up."""
        for item in self._items:
            if not self._limiter.hit(item, terminal_id):
                reset_at = self._limiter.get_window_stats(item, terminal_id).reset_time
                return Verdict(False, max(1, math.ceil(reset_at - time.time())))
        return Verdict(True)
