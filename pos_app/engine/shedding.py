"""Load shedding: when too many requests are in flight, refuse the least urgent ones first.

Reports go first (``[engine] shed_reports_in_flight``), then everything that can wait or be retried
(journal sync, new event streams, activation, the API docs; ``max_in_flight``). Payments, refunds,
the gateways' callbacks and the health checks are never shed: a customer is waiting on the first
two, a refused callback only makes the gateway send it again later, and a load balancer must see
the truth.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import IntEnum


class Priority(IntEnum):
    REPORT = 0
    DEFERRABLE = 1
    CRITICAL = 2


#: Paths (by prefix) never shed; everything else not under REPORT_PREFIXES is DEFERRABLE.
CRITICAL_PREFIXES = ("/v1/payments", "/notify/", "/healthz", "/readyz", "/metrics")
REPORT_PREFIXES = ("/v1/reports/", "/openapi.json", "/docs", "/redoc")
#: Long-lived streams are admitted like any request but not counted as load while they idle.
STREAM_PATHS = frozenset({"/v1/events"})


def priority_of(path: str) -> Priority:
    if path.startswith(CRITICAL_PREFIXES):
        return Priority.CRITICAL
    if path.startswith(REPORT_PREFIXES):
        return Priority.REPORT
    return Priority.DEFERRABLE


class LoadShedder:
    """Counts the requests in flight in this process and decides which new ones to admit."""

    def __init__(self, *, reports_above: int, others_above: int) -> None:
        self._limits = {Priority.REPORT: reports_above, Priority.DEFERRABLE: others_above}
        self.in_flight = 0

    def admits(self, path: str) -> bool:
        limit = self._limits.get(priority_of(path))
        return limit is None or self.in_flight < limit

    @contextlib.contextmanager
    def track(self, path: str) -> Iterator[None]:
        """Count the request as in flight while it runs (event streams excepted)."""
        if path in STREAM_PATHS:
            yield
            return
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
