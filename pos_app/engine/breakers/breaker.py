"""One gateway channel's circuit breaker: closed, open (fail fast), half-open (one probe at a time).

Written here rather than taken from a library (purgatory, pybreaker, aiobreaker were considered)
because the engine needs three things none of them offers together: the engine's injected clock (so
tests and drills move time instead of waiting; those libraries read the system clock), exactly one
probe call at a time while half-open (so a recovering gateway is not hit by every waiting sale at
once, and a failed probe costs one sale, not a queue of them), and a backoff that doubles the wait
after each failed probe. What counts as a failure is the caller's decision (see ``guard``): a gateway
that answers, even with a decline, is working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pos_app.domain.routing import Channel
from pos_app.engine.providers.base import DefiniteFailure

log = logging.getLogger(__name__)

#: Seconds since some fixed moment; only differences matter.
Seconds = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls fail fast until the next probe is due
    HALF_OPEN = "half_open"  # the next call is a probe: its answer closes or re-opens the breaker


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a channel is taken out of service, for how long, and how many calls it carries at once."""

    failures: int = 5  # unanswered calls in a row that open the breaker
    open_s: float = 10.0  # wait before the first probe
    max_open_s: float = 120.0  # the wait doubles after each failed probe, up to this
    # A call without an answer by then is unanswered (outcome unknown); above the provider's own
    # retries of a call (three tries of the 10 s request timeout, with pauses).
    call_timeout_s: float = 40.0
    max_in_flight: int = 32  # gateway calls on the channel at once (the bulkhead)
    busy_wait_s: float = 1.0  # a new payment waits this long for a free slot, then fails fast


class CircuitOpen(DefiniteFailure):
    """The engine did not call the gateway: its channel is failing. No money moved."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason, code="CIRCUIT_OPEN")
        self.retry_after_s = retry_after_s


class CircuitBreaker:
    """The breaker of one channel. Not thread-safe: used from the engine's event loop only."""

    def __init__(self, channel: Channel, policy: BreakerPolicy, clock: Seconds) -> None:
        self.channel = channel
        self._policy = policy
        self._clock = clock
        self._failures = 0  # unanswered calls in a row while closed
        self._open_for = policy.open_s
        self._retry_at: float | None = None  # None: closed
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._retry_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock() >= self._retry_at:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_after_s(self) -> float:
        """Seconds until the next probe may go (0 when closed or due)."""
        if self._retry_at is None:
            return 0.0
        return max(0.0, self._retry_at - self._clock())

    def admits(self) -> bool:
        """Whether a call would go through now (closed, or half-open with no probe out)."""
        return self._retry_at is None or (not self._probing and self._clock() >= self._retry_at)

    def admit(self, refusal: str) -> bool:
        """Let a call through, or raise :class:`CircuitOpen` with ``refusal``. Returns True when the
        call is the half-open probe (report its end with ``probe=True``)."""
        if self._retry_at is None:
            return False
        if self._probing or self._clock() < self._retry_at:
            raise CircuitOpen(refusal, self.retry_after_s())
        self._probing = True
        log.info("%s: probing the gateway (breaker half-open)", self.channel.value)
        return True

    def succeeded(self, *, probe: bool) -> None:
        """The gateway answered (a result or a definite refusal): it works."""
        self._failures = 0
        if probe:
            self._probing = False
        if self._retry_at is not None and not self._probing:
            log.warning("%s answers again: breaker closed", self.channel.value)
            self._retry_at = None
            self._open_for = self._policy.open_s

    def failed(self, *, probe: bool) -> None:
        """The gateway did not answer (timeout, lost connection, 5xx, system error)."""
        if probe:
            self._probing = False
            self._open_for = min(self._open_for * 2, self._policy.max_open_s)
            self._open(f"the probe was not answered either; next probe in {self._open_for:.0f} s")
            return
        if self._retry_at is not None:
            return  # already open: calls that started before it opened end now
        self._failures += 1
        if self._failures >= self._policy.failures:
            self._open(f"{self._failures} calls in a row were not answered")

    def abandoned(self, *, probe: bool) -> None:
        """The call ended without telling anything about the gateway (cancelled, never sent)."""
        if probe:
            self._probing = False

    def _open(self, why: str) -> None:
        self._failures = 0
        self._retry_at = self._clock() + self._open_for
        log.warning(
            "%s breaker open: %s; new payments on it fail fast",
            self.channel.value,
            why,
            extra={"channel": self.channel.value, "breaker": BreakerState.OPEN.value},
        )
