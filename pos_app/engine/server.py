"""The engine's HTTP API (DESIGN.md §4): routes only. The only module of the engine importing FastAPI.

Every ``/v1`` route except activation is HMAC-signed by the terminal (``terminal_auth``); every
error is an :class:`ErrorBody` whose message a cashier can act on. The use cases (built by
``wiring.py``) own every transaction and gateway call; this module translates HTTP to calls and
exceptions to status codes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import httpx
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pos_app.api import auth as terminal_auth
from pos_app.api.schemas import (
    TRADE_NO_PATTERN,
    ActivateRequest,
    ActivateResponse,
    CancelPayment,
    CreatePayment,
    CreateRefund,
    DailyReport,
    ErrorBody,
    PaymentEvent,
    PaymentView,
    RefundView,
    SyncAck,
    SyncBatch,
)
from pos_app.config import Settings
from pos_app.domain import errors as domain_errors
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.engine import errors as engine_errors
from pos_app.engine.events import Events
from pos_app.engine.metrics import EngineMetrics, RequestMetricsMiddleware
from pos_app.engine.providers import base as provider_base
from pos_app.engine.providers import build_providers
from pos_app.engine.store.db import open_ledger
from pos_app.engine.store.terminals import ActivationError, IncomingEvent, SyncConflict, TerminalRegistry
from pos_app.engine.sync_compare import TerminalDayComparison, compare_day, store_terminals
from pos_app.engine.wiring import UseCases, build_use_cases

log = logging.getLogger("pos_app.engine.server")

Clock = Callable[[], datetime]
SSE_HEARTBEAT_S = 15.0
EVENTS_PAGE = 100
_NONCE_MIN, _NONCE_MAX = 8, 64


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ApiError(domain_errors.PosError):
    """An error answered as ``ErrorBody`` with ``status_code``."""

    def __init__(self, status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class AuthedTerminal:
    terminal_id: str
    store_id: str


@dataclass
class EngineState:
    """What the lifespan builds and the routes use (kept on ``app.state.engine``)."""

    settings: Settings
    registry: TerminalRegistry
    use_cases: UseCases
    metrics: EngineMetrics
    clock: Clock


# --- error mapping ----------------------------------------------------------------------------

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Refused input"),
        (401, "Not signed, bad signature, clock skew, replayed nonce or unknown terminal"),
        (404, "No such payment or refund"),
        (409, "Conflicts with what the engine holds"),
        (422, "Invalid request body or parameters"),
        (502, "The gateway refused or failed"),
        (503, "The engine cannot serve the request right now"),
    )
}


def _error_for_pos_error(exc: domain_errors.PosError) -> tuple[int, str]:
    """Status and stable code of a domain error (first match wins: specific classes before families)."""
    by_class: list[tuple[type[BaseException], int, str]] = [
        (engine_errors.PaymentNotFound, 404, "not_found"),
        (engine_errors.RefundNotFound, 404, "not_found"),
        (engine_errors.IdempotencyConflict, 409, "conflict"),
        (engine_errors.PaymentStateError, 409, "conflict"),
        (engine_errors.ChannelUnavailable, 422, "channel_unavailable"),
        (domain_errors.AmountError, 422, "amount_error"),
        (domain_errors.AuthCodeError, 422, "auth_code_error"),
        (domain_errors.IdError, 422, "id_error"),
        (domain_errors.InputError, 422, "input_error"),
        (domain_errors.IllegalTransition, 409, "conflict"),
        (domain_errors.PaymentDeclined, 402, "declined"),
        (domain_errors.OutcomeUnknown, 503, "outcome_unknown"),
        (domain_errors.AuthorisationError, 403, "forbidden"),
        (domain_errors.ConfigError, 503, "engine_misconfigured"),
    ]
    for cls, status, code in by_class:
        if isinstance(exc, cls):
            return status, code
    return 400, "refused"


def _error_for_gateway(exc: provider_base.GatewayError) -> tuple[int, str]:
    if isinstance(exc, provider_base.OrderNotFound):
        return 404, "not_found"
    if isinstance(exc, provider_base.DefiniteFailure):
        return 402, "declined"
    if isinstance(exc, provider_base.ConfigurationError):
        return 503, "gateway_misconfigured"
    return 503, "outcome_unknown"


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "The request was not understood — update the terminal software."
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header"))
    return f"{where or 'request'}: {first.get('msg', 'invalid')}."


def _json_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(code=code, message=message).model_dump(), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _json_error(exc.status_code, exc.code, exc.message, exc.headers)

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _json_error(422, "invalid_request", _validation_message(exc))

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {
            404: "No such endpoint — check the engine URL.",
            405: "That method is not allowed here — update the terminal software.",
        }.get(exc.status_code, str(exc.detail))
        return _json_error(exc.status_code, code, message, exc.headers)

    async def pos_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, domain_errors.PosError)
        status, code = _error_for_pos_error(exc)
        return _json_error(status, code, exc.message)

    async def gateway_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, provider_base.GatewayError)
        status, code = _error_for_gateway(exc)
        log.warning("gateway error answered as %s: %s", status, exc.reason)
        return _json_error(status, code, exc.reason)

    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        return _json_error(
            500, "internal", "The engine hit an unexpected error — nothing was charged twice; try again."
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(domain_errors.PosError, pos_error)
    app.add_exception_handler(provider_base.GatewayError, gateway_error)
    app.add_exception_handler(Exception, unexpected)


# --- wiring -----------------------------------------------------------------------------------


def _build_use_cases(
    settings: Settings,
    ledger: Any,
    *,
    provider_transport: httpx.AsyncBaseTransport | None,
    clock: Clock | None,
) -> tuple[UseCases, Callable[[], Awaitable[None]]]:
    """The providers and the use cases over an open ledger. Returns (use cases, async closer)."""
    providers = build_providers(settings, transport=provider_transport, clock=clock)
    use_cases = build_use_cases(ledger, providers, settings, clock=clock)

    async def close() -> None:
        await use_cases.aclose()
        for provider in providers.values():
            try:
                await provider.aclose()
            except Exception:
                log.exception("closing a provider failed")

    return use_cases, close


def _state(request: Request) -> EngineState:
    state: EngineState = request.app.state.engine
    return state


def _use_cases(request: Request) -> UseCases:
    return _state(request).use_cases


# --- terminal authentication ------------------------------------------------------------------


def _path_and_query(request: Request) -> str:
    raw = request.scope.get("raw_path")
    path = raw.split(b"?", 1)[0].decode("latin-1") if raw else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


_UNAUTH = {"WWW-Authenticate": "X-Pos-Signature"}


async def authenticate(request: Request) -> AuthedTerminal:
    """The FastAPI dependency guarding every signed route."""
    state = _state(request)
    headers = request.headers
    terminal_id = headers.get(terminal_auth.HEADER_TERMINAL, "")
    timestamp = headers.get(terminal_auth.HEADER_TIMESTAMP, "")
    nonce = headers.get(terminal_auth.HEADER_NONCE, "")
    signature = headers.get(terminal_auth.HEADER_SIGNATURE, "")
    if not (terminal_id and timestamp and nonce and signature):
        raise ApiError(401, "unsigned", "This request is not signed — activate the terminal first.", _UNAUTH)
    if not timestamp.isdigit() or not _NONCE_MIN <= len(nonce) <= _NONCE_MAX or not nonce.isascii():
        raise ApiError(401, "bad_signature", "The request signature headers are malformed.", _UNAUTH)
    now = state.clock()
    sent_at = int(timestamp)
    skew = abs(now.timestamp() - sent_at)
    if skew > terminal_auth.MAX_SKEW_S:
        raise ApiError(
            401,
            "clock_skew",
            f"This till's clock is off by {int(skew)} s — correct its date and time, then try again.",
            _UNAUTH,
        )
    known = await run_in_threadpool(state.registry.terminal_key, terminal_id)
    if known is None:
        raise ApiError(
            401,
            "unknown_terminal",
            f"Terminal {terminal_id[:8]} is not activated on this engine — activate it with a new code.",
            _UNAUTH,
        )
    store_id, key = known
    body = await request.body()
    if not terminal_auth.verify(key, request.method, _path_and_query(request), timestamp, nonce, body, signature):
        raise ApiError(
            401,
            "bad_signature",
            "The request signature is wrong — this terminal's key does not match; re-activate it.",
            _UNAUTH,
        )
    keep_until = datetime.fromtimestamp(max(sent_at, int(now.timestamp())), UTC) + timedelta(
        seconds=terminal_auth.MAX_SKEW_S + 1
    )
    fresh = await run_in_threadpool(state.registry.remember_nonce, terminal_id, nonce, keep_until=keep_until)
    if not fresh:
        raise ApiError(
            401,
            "replayed",
            "This request was already received once (replayed nonce) — it was not run again.",
            _UNAUTH,
        )
    return AuthedTerminal(terminal_id=terminal_id, store_id=store_id)


Authed = Annotated[AuthedTerminal, Depends(authenticate)]
TradeNo = Annotated[str, Path(pattern=TRADE_NO_PATTERN, description="The merchant order number.")]


# --- gateway callbacks --------------------------------------------------------------------------

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

    def __init__(self, app: FastAPI, limit: int, metrics: EngineMetrics, clock: Clock) -> None:
        self._app = app
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
        state: EngineState = self._app.state.engine
        try:
            ack = await state.use_cases.notifications.handle_notification(channel, headers, body)
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


# --- the app ----------------------------------------------------------------------------------


def create_engine_app(
    settings: Settings,
    *,
    provider_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    reconcile_daily: bool = False,
) -> EngineApp:
    """The engine ASGI app. The lifespan opens the ledger, builds providers and the use cases, and
    runs the resolver (settles unknown outcomes) until shutdown; with ``reconcile_daily`` it also
    reconciles yesterday every day at ``[engine] reconcile_at`` (the served engine does; tests that
    build the app in-process choose)."""
    metrics = EngineMetrics()
    now = clock or _utcnow

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = await run_in_threadpool(open_ledger, settings.database_url)
        registry = TerminalRegistry(ledger, clock=now)
        await run_in_threadpool(registry.create_tables)
        use_cases, close_use_cases = _build_use_cases(
            settings, ledger, provider_transport=provider_transport, clock=clock
        )
        app.state.engine = EngineState(settings, registry, use_cases, metrics, now)
        stop = asyncio.Event()
        resolver = asyncio.create_task(use_cases.resolver.run(stop), name="pos-engine-resolver")
        background = [resolver]
        if reconcile_daily and settings.engine.reconcile_at is not None:
            from pos_app.engine.reconcile.runner import run_scheduler

            background.append(
                asyncio.create_task(
                    run_scheduler(settings, run_at=settings.engine.reconcile_at, stop=stop), name="pos-engine-reconcile"
                )
            )
        log.info("engine started (listen %s)", settings.engine.listen)
        try:
            yield
        finally:
            stop.set()
            for task in background:
                try:
                    await asyncio.wait_for(task, timeout=10)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                except Exception:
                    log.exception("%s stopped with an error", task.get_name())
            await close_use_cases()
            ledger.dispose()
            log.info("engine stopped")

    app = EngineApp(
        title="pos_app payment engine",
        version="1",
        description="Payments, refunds, events and journal sync for checkout terminals. "
        "Every /v1 route except activation needs the X-Pos-* HMAC signature headers. "
        "Gateway callbacks: POST /notify/wechatpay (WeChat Pay v3 JSON, answered 204 or 4xx/5xx "
        '{"code":"FAIL"}) and POST /notify/alipay (form-encoded, answered `success` or `fail`).',
        lifespan=lifespan,
        responses=_ERROR_RESPONSES,
    )
    app.add_middleware(
        RequestMetricsMiddleware, metrics=metrics, fixed_paths=frozenset({"/notify/wechatpay", "/notify/alipay"})
    )
    _install_error_handlers(app)

    @app.post("/v1/terminals/activate", response_model=ActivateResponse, tags=["terminals"])
    async def activate(request: Request, body: ActivateRequest) -> ActivateResponse:
        """Trade a one-time activation code (from `pos engine activation-code`) for this terminal's key."""
        registry = _state(request).registry
        try:
            key = await run_in_threadpool(
                lambda: registry.activate(
                    code=body.activation_code, store_id=body.store_id, terminal_id=body.terminal_id, name=body.name
                )
            )
        except ActivationError as exc:
            raise ApiError(401, "activation_refused", exc.message) from None
        log.info("terminal %s of store %s activated", body.terminal_id, body.store_id)
        return ActivateResponse(
            terminal_id=body.terminal_id,
            store_id=body.store_id,
            terminal_key=base64.urlsafe_b64encode(key).decode("ascii").rstrip("="),
        )

    @app.post("/v1/payments", response_model=PaymentView, tags=["payments"])
    async def create_payment(request: Request, terminal: Authed, body: CreatePayment) -> PaymentView:
        """Start (or, for a repeated out_trade_no, return) a payment. Micropay waits briefly for the result."""
        view: PaymentView = await _use_cases(request).payments.create_payment(
            terminal.terminal_id, terminal.store_id, body
        )
        metrics.payment_results.labels(view.channel.value, view.state.value).inc()
        return view

    @app.get("/v1/payments/{out_trade_no}", response_model=PaymentView, tags=["payments"])
    async def get_payment(request: Request, terminal: Authed, out_trade_no: TradeNo) -> PaymentView:
        view: PaymentView = await _use_cases(request).payments.get_payment(terminal.terminal_id, out_trade_no)
        return view

    @app.post("/v1/payments/{out_trade_no}/cancel", response_model=PaymentView, tags=["payments"])
    async def cancel_payment(
        request: Request, terminal: Authed, out_trade_no: TradeNo, body: CancelPayment
    ) -> PaymentView:
        """Close an unpaid native order or reverse a micropay (returns the money if it was paid)."""
        view: PaymentView = await _use_cases(request).payments.cancel_payment(terminal.terminal_id, out_trade_no, body)
        metrics.payment_results.labels(view.channel.value, view.state.value).inc()
        return view

    @app.post("/v1/payments/{out_trade_no}/refunds", response_model=RefundView, tags=["payments"])
    async def create_refund(
        request: Request, terminal: Authed, out_trade_no: TradeNo, body: CreateRefund
    ) -> RefundView:
        view: RefundView = await _use_cases(request).refunds.create_refund(terminal.terminal_id, out_trade_no, body)
        return view

    @app.get("/v1/payments/{out_trade_no}/refunds/{out_refund_no}", response_model=RefundView, tags=["payments"])
    async def get_refund(
        request: Request, terminal: Authed, out_trade_no: TradeNo, out_refund_no: TradeNo
    ) -> RefundView:
        view: RefundView = await _use_cases(request).refunds.get_refund(
            terminal.terminal_id, out_trade_no, out_refund_no
        )
        return view

    @app.get(
        "/v1/events",
        tags=["events"],
        response_class=EventSourceResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "PaymentEvent JSON per event."}},
    )
    async def events(
        request: Request,
        terminal: Authed,
        last_event_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
        last_event_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> EventSourceResponse:
        """Server-sent events: this terminal's payment and refund changes. Resumes after Last-Event-ID."""
        start = last_event_id or 0
        if last_event_header and last_event_header.strip().isdigit():
            start = max(start, int(last_event_header.strip()))
        return EventSourceResponse(
            _event_stream(_use_cases(request).events, terminal.terminal_id, start),
            ping=SSE_HEARTBEAT_S,
            send_timeout=30,
        )

    @app.post("/v1/sync/batches", response_model=SyncAck, tags=["sync"])
    async def sync_batch(request: Request, terminal: Authed, body: SyncBatch) -> SyncAck:
        """Store journal events by (terminal, seq): replays are harmless, gaps and forks are refused."""
        items = [IncomingEvent(e.seq, e.kind, dict(e.payload), e.at, e.prev_hash, e.hash) for e in body.events]
        registry = _state(request).registry
        try:
            held = await run_in_threadpool(registry.store_journal_events, terminal.terminal_id, items)
        except SyncConflict as exc:
            raise ApiError(409, "sync_conflict", exc.message) from None
        return SyncAck(acked_seq=held)

    @app.get("/v1/reports/daily", response_model=DailyReport, tags=["reports"])
    async def daily_report(
        request: Request,
        terminal: Authed,
        day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, default today")] = None,
        scope: Annotated[Literal["terminal", "store"], Query()] = "terminal",
    ) -> DailyReport:
        """Totals by channel for one day, and the payments still being settled."""
        use_cases = _use_cases(request)
        the_day = day or date.fromisoformat(use_cases.context.business_day(now()))
        who = terminal.terminal_id if scope == "terminal" else None
        report: DailyReport = await use_cases.reports.daily_report(the_day, who)
        return report

    @app.get("/v1/reports/terminals", response_model=list[TerminalDayComparison], tags=["reports"])
    async def terminal_comparison(
        request: Request,
        terminal: Authed,
        day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, default today")] = None,
        scope: Annotated[Literal["terminal", "store"], Query()] = "terminal",
    ) -> list[TerminalDayComparison]:
        """Per terminal: totals of its synced journal beside the engine's ledger, and every difference."""
        the_day = day or date.fromisoformat(_use_cases(request).context.business_day(now()))
        ledger = _state(request).registry.engine

        def compare() -> list[TerminalDayComparison]:
            with Session(ledger) as session:
                ids = store_terminals(session, terminal.store_id) if scope == "store" else [terminal.terminal_id]
                return compare_day(session, the_day, ids)

        return await run_in_threadpool(compare)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus_metrics(request: Request) -> Response:
        try:
            metrics.unknowns_pending.set(len(await _use_cases(request).reports.unsettled()))
        except Exception:
            log.exception("could not count unsettled payments")
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    gateway = GatewayCallbacks(app, settings.engine.max_notify_body_bytes, metrics, now)
    # Non-POST requests to these paths (405) and any request that did not take the fast path (see
    # EngineApp) go through the framework like every route; POSTs are answered by ``gateway`` directly.
    for path in GATEWAY_PATHS:
        app.router.routes.append(Route(path, gateway, methods=["POST"], name=path.strip("/").replace("/", "_")))
    app.gateway = gateway
    return app


async def _event_stream(events: Events, terminal_id: str, start: int) -> AsyncIterator[ServerSentEvent]:
    """Everything after ``start``, then each new event as it happens (this process's changes wake us)."""
    last = start
    batch: list[PaymentEvent] = await events.events_since(terminal_id, last, EVENTS_PAGE)
    while True:
        for item in batch:
            last = max(last, item.event_id)
            yield ServerSentEvent(data=item.model_dump_json(), id=str(item.event_id), event=item.type)
        if len(batch) == EVENTS_PAGE:  # a full page: more may be waiting
            batch = await events.events_since(terminal_id, last, EVENTS_PAGE)
        else:
            # Reads once more before sleeping (anything committed since the last read is caught), so
            # no read of its own is needed here: one ledger read fewer per event, and each runs while
            # a payment is being created (the events of a QR order arrive during its create call).
            batch = await events.wait_for_events(terminal_id, last, SSE_HEARTBEAT_S, limit=EVENTS_PAGE)


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
