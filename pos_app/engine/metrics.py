"""Prometheus metrics of one engine app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Notification lag: gateway timestamp -> durably recorded here. Gateways retry after 15 s.
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0)


@dataclass
class EngineMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    _request_children: dict[tuple[str, str, int], Any] = field(default_factory=dict, init=False, repr=False)
    _channels: Collector | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "pos_engine_requests", "HTTP requests answered.", ["method", "route", "status"], registry=self.registry
        )
        self.payment_results = Counter(
            "pos_engine_payment_results",
            "Payment states answered by create/cancel calls and notifications.",
            ["channel", "state"],
            registry=self.registry,
        )
        self.unknowns_pending = Gauge(
            "pos_engine_unsettled_payments",
            "Payments whose outcome is not known yet (being settled by query, then cancel).",
            registry=self.registry,
        )
        self.notification_lag = Histogram(
            "pos_engine_notification_lag_seconds",
            "Gateway notification timestamp to acknowledgement.",
            ["channel"],
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self.refused = Counter(
            "pos_engine_refused_requests",
            "Requests refused at the edge before any route ran (unsigned, too_large, rate_limited, overloaded, ...).",
            ["reason"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "pos_engine_requests_in_flight",
            "Requests being answered now (event streams excepted): what load shedding compares with its limits.",
            registry=self.registry,
        )

    def watch_channels(self, source: ChannelSource) -> None:
        """Export ``source``'s breaker states and flagged notifications on every scrape (from the
        latest ``source``: an app started again gets new use cases)."""
        if self._channels is not None:
            self.registry.unregister(self._channels)
        self._channels = _ChannelCollector(source)
        self.registry.register(self._channels)

    def count_request(self, method: str, route: str, status: int) -> None:
        """``requests`` + 1, with each label set's child looked up once (this runs on every request)."""
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(method, route, str(status))
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ChannelSource(Protocol):
    """What the engine's use cases tell about their gateway channels (see ``wiring.UseCases``)."""

    def channel_states(self) -> dict[str, str]: ...
    def flagged_notifications(self) -> dict[str, int]: ...


#: ``pos_engine_breaker_state`` values.
_BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class _ChannelCollector(Collector):
    """Read at scrape time: the breakers live in the use cases, built after the metrics."""

    def __init__(self, source: ChannelSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        breakers = GaugeMetricFamily(
            "pos_engine_breaker_state",
            "Circuit breaker of each gateway channel: 0 closed, 1 half-open (probing), 2 open (failing fast).",
            labels=["channel"],
        )
        for channel, state in self._source.channel_states().items():
            breakers.add_metric([channel], _BREAKER_VALUES[state])
        yield breakers
        flagged = CounterMetricFamily(
            "pos_engine_notifications_flagged",
            "Gateway-signed notifications kept for attention and never applied (they contradict their order).",
            labels=["channel"],
        )
        for channel, count in self._source.flagged_notifications().items():
            flagged.add_metric([channel], float(count))
        yield flagged


class RequestMetricsMiddleware:
    """Counts requests by route template (not raw path: order numbers would explode the labels)."""

    def __init__(self, app: ASGIApp, metrics: EngineMetrics, fixed_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.metrics = metrics
        # Plain Starlette routes (the gateway callbacks) leave no route in the scope; their paths have
        # no parameters, so the raw path is a safe label.
        self.fixed_paths = fixed_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = scope.get("path", "")
            template = getattr(route, "path", None) or (path if path in self.fixed_paths else "unmatched")
            self.metrics.count_request(scope.get("method", "?"), template, status)
