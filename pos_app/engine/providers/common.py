"""What both provider clients share: the injected clock, the retry policy, transport-error mapping.

Retries cover transport errors only (connection refused/reset, timeouts) and only on calls that are
safe to replay: queries, close, reverse/cancel, and prepay/refund, whose replays carry the same
out_trade_no / out_refund_no so the gateway treats them as the same request. A payment-code
(micropay) call is never replayed here: its unknown outcome is settled by query, then reverse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from pos_app.engine.providers.base import OutcomeUnknownError

#: Returns the current time as an aware datetime. Injected everywhere so tests control it.
Clock = Callable[[], datetime]


T = TypeVar("T")


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with capped exponential backoff plus random jitter (tenacity).

    Wait before retry n (n = 1, 2, …): ``min(initial_s * 2**(n-1), max_s) + uniform(0, jitter_s)``.

    ``attempts`` counts the first try. ``RetryPolicy.instant()`` keeps the count but never sleeps.
    """

    attempts: int = 3
    initial_s: float = 0.25
    max_s: float = 2.0
    jitter_s: float = 0.25

    @classmethod
    def instant(cls, attempts: int = 3) -> RetryPolicy:
        return cls(attempts=attempts, initial_s=0.0, max_s=0.0, jitter_s=0.0)

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(attempts=1, initial_s=0.0, max_s=0.0, jitter_s=0.0)

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(max(1, self.attempts)),
            wait=wait_exponential(multiplier=self.initial_s, max=self.max_s) + wait_random(0, self.jitter_s),
            retry=retry_if_exception_type(httpx.TransportError),
            reraise=True,
        )

    async def run(self, call: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """Run ``call``; replay it on transport errors when ``idempotent``. Transport errors that
        remain become OutcomeUnknownError (the request may or may not have reached the gateway)."""
        try:
            if not idempotent:
                return await call()
            async for attempt in self.retrying():
                with attempt:
                    return await call()
        except httpx.TimeoutException as exc:
            raise OutcomeUnknownError(
                "The payment gateway did not answer in time — the result is being checked, do not charge again.",
                code="TIMEOUT",
            ) from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknownError(
                "The payment gateway could not be reached — the result is being checked, do not charge again.",
                code="NETWORK",
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover
