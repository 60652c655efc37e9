"""Prometheus metrics of one engine app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Notification lag: gateway timestamp -> durably recorded here. Gateways retry after 15 s.
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0)


@dataclass
class EngineMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    _request_children: dict[tuple[str, str, int], Any] = field(default_factory=dict, init=False, repr=False)

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

    def count_request(self, method: str, route: str, status: int) -> None:
        """``requests`` + 1, with each label set's child looked up once (this runs on every request)."""
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(method, route, str(status))
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


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
