"""The engine's HTTP API (DESIGN.md §4): the routes, terminal authentication and the app's lifespan.

Every ``/v1`` route except activation is HMAC-signed by the terminal (``terminal_auth``); every
error is an :class:`ErrorBody` whose message a cashier can act on (``http_errors``). The use cases
(built by ``wiring``) own every transaction and gateway call; this module translates HTTP to calls.
The gateways' callbacks are answered by ``callbacks``. These three are the only engine modules that
import the HTTP framework (an import-linter contract keeps it out of the use cases).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from pos_app.api import auth as terminal_auth
from pos_app.api.schemas import (
    TRADE_NO_PATTERN,
    ActivateRequest,
    ActivateResponse,
    CancelPayment,
    CreatePayment,
    CreateRefund,
    DailyReport,
    PaymentEvent,
    PaymentView,
    RefundView,
    SyncAck,
    SyncBatch,
)
from pos_app.config import Settings
from pos_app.engine.callbacks import GATEWAY_PATHS, EngineApp, GatewayCallbacks
from pos_app.engine.events import Events
from pos_app.engine.http_errors import ERROR_RESPONSES, ApiError, install_error_handlers
from pos_app.engine.metrics import EngineMetrics, RequestMetricsMiddleware
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


def _app_state(app: FastAPI) -> EngineState:
    state: EngineState = app.state.engine
    return state


def _state(request: Request) -> EngineState:
    return _app_state(request.app)


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
        responses=ERROR_RESPONSES,
    )
    app.add_middleware(
        RequestMetricsMiddleware, metrics=metrics, fixed_paths=frozenset({"/notify/wechatpay", "/notify/alipay"})
    )
    install_error_handlers(app)

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

    gateway = GatewayCallbacks(
        lambda: _app_state(app).use_cases.notifications, settings.engine.max_notify_body_bytes, metrics, now
    )
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
