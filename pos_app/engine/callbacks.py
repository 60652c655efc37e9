"""The gateways' callbacks (POST /notify/<gateway>) answered before the framework's middleware stack."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.engine.metrics import EngineMetrics
from pos_app.engine.notify.notifications import Notifications
from pos_app.engine.providers import base as provider_base

log = logging.getLogger("pos_app.engine.server")

Clock = Callable[[], datetime]

#: The gateways' callback paths (DESIGN.md §4) and the channel each one serves.
GATEWAY_PATHS: Mapping[str, Channel] = {"/notify/wechatpay": Channel.WECHAT, "/notify/alipay": Channel.ALIPAY}


class GatewayCallbacks:
    """POST /notify/<gateway> as a bare ASGI app: raw body (size-limited) → notification use case → exact ack.

    Why not a route like the others: a notification is the engine's hottest request, and most of its
    CPU went to the framework around it (FastAPI's telemetry, body-limit, exit-stack and exception
    middleware, router matching, the Request object) rather than to verifying and storing it. It
    needs none of that: no parameters, no dependencies, no JSON model; only the raw bytes, a size
    limit before anything parses them, the gateway's exact answer, a request count in /metrics and a
    500 (logged) if something unexpected breaks. :class:`EngineApp` hands these POSTs here first.
    """

    def __init__(
        self, notifications: Callable[[], Notifications], limit: int, metrics: EngineMetrics, clock: Clock
    ) -> None:
        self._notifications = notifications  # built by the app's lifespan, after this object
        self._limit = limit
        self._metrics = metrics
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As a route endpoint (reached through the framework, whose middleware counts it)."""
        await self.answer(scope, receive, send)

    async def fast(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Straight from the server (see :class:`EngineApp`): answer and count the request."""
        status = 500
        try:
            status = await self.answer(scope, receive, send)
        finally:
            self._metrics.count_request("POST", scope["path"], status)

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one callback; returns the status sent (500 if none could be)."""
        channel = GATEWAY_PATHS[scope["path"]]
        try:
            response = await self._respond(channel, scope, receive)
        except Exception:
            log.exception("unexpected error answering a %s notification", channel.value)
            response = _raw(_notify_refusal(channel, 500, "internal error"))
        if response is None:
            return 500  # the gateway hung up before sending the whole body: nobody to answer
        status, raw_headers, body = response
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})
        return status

    async def _respond(self, channel: Channel, scope: Scope, receive: Receive) -> RawResponse | None:
        headers = _header_dict(scope["headers"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            return _raw(_notify_refusal(channel, 413, "body too large"))
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self._limit:
                return _raw(_notify_refusal(channel, 413, "body too large"))
            if not message.get("more_body", False):
                break
        try:
            ack = await self._notifications().handle_notification(channel, headers, body)
        except provider_base.NotificationInvalid as exc:
            log.warning("%s notification refused: %s", channel.value, exc.reason)
            return _raw(_notify_refusal(channel, exc.status_code, exc.reason))
        if 200 <= ack.status_code < 300:
            lag = _notification_lag(channel, headers, body, self._clock())
            if lag is not None:
                self._metrics.notification_lag.labels(channel.value).observe(lag)
        return _ack_response(ack)


#: (status, raw headers, body) of an answer to a gateway.
RawResponse = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]


@functools.lru_cache(maxsize=32)
def _ack_response(ack: provider_base.NotificationAck) -> RawResponse:
    """The gateways get a handful of distinct acks: each one's headers are built once (by Starlette)."""
    return _raw(Response(ack.body, status_code=ack.status_code, media_type=ack.media_type))


def _raw(response: Response) -> RawResponse:
    return response.status_code, tuple(response.raw_headers), bytes(response.body)


def _header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers (lower-case names) as a dict; the first of repeated headers wins, as in Starlette."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(raw)}


class EngineApp(FastAPI):
    """The engine's FastAPI app, with the gateways' callbacks answered before the middleware stack.

    Everything else (including a callback path with another method, which gets the framework's 405)
    goes through FastAPI as usual. The callbacks are still counted in ``pos_engine_requests`` under
    their path, like every route is by ``RequestMetricsMiddleware``.
    """

    gateway: GatewayCallbacks | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway = self.gateway
        if (
            gateway is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in GATEWAY_PATHS
        ):
            await gateway.fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _notify_refusal(channel: Channel, status: int, reason: str) -> Response:
    if channel is Channel.WECHAT:
        return JSONResponse({"code": "FAIL", "message": reason[:120]}, status_code=status)
    return Response(b"fail", status_code=status, media_type="text/plain")


def _notification_lag(channel: Channel, headers: Mapping[str, str], body: bytes, now: datetime) -> float | None:
    """Seconds from the gateway's own timestamp to our acknowledgement (None if it has none)."""
    if channel is Channel.WECHAT:
        stamp = headers.get("wechatpay-timestamp", "")
        return max(0.0, now.timestamp() - int(stamp)) if stamp.isdigit() else None
    try:
        notify_time = parse_qs(body.decode("utf-8", "replace")).get("notify_time", [""])[0]
        sent = datetime.strptime(notify_time, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ)
    except ValueError:
        return None
    return max(0.0, (now - sent).total_seconds())
