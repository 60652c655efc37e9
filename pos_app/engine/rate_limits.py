"""Request limits kept in this process's memory by ``limits``: per terminal (``[engine] rate_limit``)
and per phone on the customer's pages (``[engine] page_rate_limit``).

A moving window per key and per configured rate (e.g. 20 a second and 600 a minute). Several
engine processes behind a load balancer each count their own share: the limit is a guard against a
runaway till or a phone (or script) hammering a page, not an accounting, so it need not be shared
through the database.
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


class KeyedRateLimits:
    """Counts each key's requests against every configured rate (``setting`` names it in errors)."""

    def __init__(self, spec: str, *, setting: str = "rate_limit") -> None:
        try:
            self._items: list[RateLimitItem] = parse_many(spec) if spec.strip() else []
        except ValueError:
            raise ConfigError(
                f'[engine] {setting} {spec!r} is not a rate — write it like "20/second;600/minute" (empty: off).'
            ) from None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @property
    def enabled(self) -> bool:
        return bool(self._items)

    def hit(self, key: str) -> Verdict:
        """Count one request of ``key``; refused if any rate is already used up."""
        for item in self._items:
            if not self._limiter.hit(item, key):
                reset_at = self._limiter.get_window_stats(item, key).reset_time
                return Verdict(False, max(1, math.ceil(reset_at - time.time())))
        return Verdict(True)


class TerminalRateLimits(KeyedRateLimits):
    """``[engine] rate_limit``: keyed by the signed terminal id."""


class PageRateLimits(KeyedRateLimits):
    """``[engine] page_rate_limit``: the customer's pages that reach a gateway or make an order
    (sign-in, the store code's amount, "check now"), keyed by the phone's address and the page's
    code. Unsigned requests from the internet: without it one phone or script could make the engine
    call the gateway (and, on a store code, create orders) as fast as it can send."""

    def __init__(self, spec: str) -> None:
        super().__init__(spec, setting="page_rate_limit")

    def hit_page(self, client_ip: str | None, token: str) -> Verdict:
        return self.hit(f"{client_ip or '-'}|{token}")
