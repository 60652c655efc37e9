"""The engine's HTTP API (DESIGN.md §4): the routes and the app's lifespan.

Every ``/v1`` route except activation is HMAC-signed by the terminal: the edge guard
(``http_guard``) authenticates, bounds and rate-limits each request before any route runs, and
hands the route its :class:`Caller`, from which every read is scoped (``scope``). Every error is an
:class:`ErrorBody` whose message a cashier can act on (``http_errors``). The use cases (built by
``wiring``) own every transaction and gateway call; this module translates HTTP to calls. The
gateways' callbacks are answered by ``callbacks``. Only the edge modules import the HTTP framework
(an import-linter contract keeps it out of the use cases).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from pos_app.api.schemas import (
    TRADE_NO_PATTERN,
    ActivateRequest,
    ActivateResponse,
    CancelPayment,
    ChannelsView,
    CreatePayment,
    CreateRefund,
    DailyReport,
    PaymentEvent,
    PaymentList,
    PaymentView,
    RefundView,
    StoreCode,
    StoreCodeRequest,
    SyncAck,
    SyncBatch,
)
from pos_app.config import Settings
from pos_app.engine.callbacks import GATEWAY_PATHS, EngineApp, GatewayCallbacks
from pos_app.engine.console_api import router as console_router
from pos_app.engine.edge_auth import TerminalAuthenticator, refused
from pos_app.engine.events import Events
from pos_app.engine.header_values import header_int
from pos_app.engine.http_errors import ERROR_RESPONSES, ApiError, install_error_handlers
from pos_app.engine.http_guard import EdgeGuard, EdgeLimits, caller_of
from pos_app.engine.metrics import EngineMetrics, RequestMetricsMiddleware
from pos_app.engine.pages.router import router as pages_router
from pos_app.engine.pages.secret import page_secret
from pos_app.engine.providers import build_providers
from pos_app.engine.providers.web_pay import build_web_pay
from pos_app.engine.rate_limits import PageRateLimits, TerminalRateLimits
from pos_app.engine.readiness import ReadinessProbe
from pos_app.engine.scheduler import start_background
from pos_app.engine.scope import Breadth, Caller
from pos_app.engine.shedding import LoadShedder
from pos_app.engine.startup import prepare_ledger
from pos_app.engine.store.db import open_ledger
from pos_app.engine.store.synced_journal import IncomingEvent, SyncConflict
from pos_app.engine.store.terminals import ActivationError, TerminalRegistry
from pos_app.engine.sync_compare import TerminalDayComparison
from pos_app.engine.wiring import UseCases, build_use_cases

log = logging.getLogger("pos_app.engine.server")

Clock = Callable[[], datetime]
SSE_HEARTBEAT_S = 15.0
EVENTS_PAGE = 100
#: How long /readyz waits for the ledger before calling it unreachable.
READINESS_TIMEOUT_S = 2.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class EngineState:
    """What the lifespan builds and the routes use (kept on ``app.state.engine``)."""

    settings: Settings
    registry: TerminalRegistry
    use_cases: UseCases
    metrics: EngineMetrics
    clock: Clock
    readiness: ReadinessProbe


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
    web = build_web_pay(settings, providers, transport=provider_transport)
    use_cases = build_use_cases(ledger, providers, settings, clock=clock, web=web, page_secret=page_secret(settings))

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


# --- the caller -------------------------------------------------------------------------------


def _caller(request: Request) -> Caller:
    """The terminal the edge guard authenticated (every signed route depends on this)."""
    caller = caller_of(request.scope)
    if caller is None:  # a signed route the guard did not see: refuse rather than serve anyone
        raise refused("unsigned", "This request is not signed — activate the terminal first.")
    return caller


Authed = Annotated[Caller, Depends(_caller)]
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
        registry = await run_in_threadpool(lambda: prepare_ledger(ledger, settings, clock=now))
        use_cases, close_use_cases = _build_use_cases(
            settings, ledger, provider_transport=provider_transport, clock=clock
        )
        readiness = ReadinessProbe(ledger, use_cases.context.channel_states)
        app.state.engine = EngineState(settings, registry, use_cases, metrics, now, readiness)
        metrics.watch_channels(use_cases)
        stop = asyncio.Event()
        background = start_background(settings, use_cases, stop, reconcile_daily=reconcile_daily)
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
            await run_in_threadpool(registry.seen.flush)  # the last "last seen" notes (console: Terminals)
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
    shedder = LoadShedder(
        reports_above=settings.engine.shed_reports_in_flight, others_above=settings.engine.max_in_flight
    )
    metrics.in_flight.set_function(lambda: shedder.in_flight)
    app.state.page_limits = PageRateLimits(settings.engine.page_rate_limit)  # read by pages.router
    # The guard sits inside the request counter, so refused requests are counted too.
    app.add_middleware(
        EdgeGuard,
        routes=lambda: app.router.routes,
        authenticator=TerminalAuthenticator(lambda: _app_state(app).registry, now),
        rate_limits=TerminalRateLimits(settings.engine.rate_limit),
        shedder=shedder,
        limits=EdgeLimits(
            signed_body_bytes=settings.engine.max_body_bytes,
            unsigned_body_bytes=settings.engine.max_unsigned_body_bytes,
            retry_after_s=settings.engine.retry_after_s,
        ),
        metrics=metrics,
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

    def _channel_label(view: PaymentView) -> str:
        return view.channel.value if view.channel is not None else "unopened"  # a one-QR page not opened yet

    @app.post("/v1/payments", response_model=PaymentView, tags=["payments"])
    async def create_payment(request: Request, caller: Authed, body: CreatePayment) -> PaymentView:
        """Start (or, for a repeated out_trade_no, return) a payment. Micropay waits briefly for the result."""
        view: PaymentView = await _use_cases(request).payments.create_payment(caller.terminal_id, caller.store_id, body)
        metrics.payment_results.labels(_channel_label(view), view.state.value).inc()
        return view

    @app.get("/v1/payments/{out_trade_no}", response_model=PaymentView, tags=["payments"])
    async def get_payment(request: Request, caller: Authed, out_trade_no: TradeNo) -> PaymentView:
        view: PaymentView = await _use_cases(request).payments.get_payment(caller.terminal_id, out_trade_no)
        return view

    @app.post("/v1/payments/{out_trade_no}/cancel", response_model=PaymentView, tags=["payments"])
    async def cancel_payment(
        request: Request, caller: Authed, out_trade_no: TradeNo, body: CancelPayment
    ) -> PaymentView:
        """Close an unpaid native order or reverse a micropay (returns the money if it was paid)."""
        view: PaymentView = await _use_cases(request).payments.cancel_payment(caller.terminal_id, out_trade_no, body)
        metrics.payment_results.labels(_channel_label(view), view.state.value).inc()
        return view

    @app.post("/v1/payments/{out_trade_no}/refunds", response_model=RefundView, tags=["payments"])
    async def create_refund(request: Request, caller: Authed, out_trade_no: TradeNo, body: CreateRefund) -> RefundView:
        view: RefundView = await _use_cases(request).refunds.create_refund(caller.terminal_id, out_trade_no, body)
        return view

    @app.get("/v1/payments/{out_trade_no}/refunds/{out_refund_no}", response_model=RefundView, tags=["payments"])
    async def get_refund(request: Request, caller: Authed, out_trade_no: TradeNo, out_refund_no: TradeNo) -> RefundView:
        view: RefundView = await _use_cases(request).refunds.get_refund(caller.terminal_id, out_trade_no, out_refund_no)
        return view

    @app.get(
        "/v1/events",
        tags=["events"],
        response_class=EventSourceResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "PaymentEvent JSON per event."}},
    )
    async def events(
        request: Request,
        caller: Authed,
        last_event_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
        last_event_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> EventSourceResponse:
        """Server-sent events: this terminal's payment and refund changes. Resumes after Last-Event-ID."""
        start = max(last_event_id or 0, header_int(last_event_header) or 0)
        return EventSourceResponse(
            _event_stream(_use_cases(request).events, caller, start),
            ping=SSE_HEARTBEAT_S,
            send_timeout=30,
        )

    @app.post("/v1/sync/batches", response_model=SyncAck, tags=["sync"])
    async def sync_batch(request: Request, caller: Authed, body: SyncBatch) -> SyncAck:
        """Store journal events by (terminal, seq): replays are harmless, gaps and forks are refused."""
        items = [IncomingEvent(e.seq, e.kind, dict(e.payload), e.at, e.prev_hash, e.hash) for e in body.events]
        registry = _state(request).registry
        try:
            held = await run_in_threadpool(
                lambda: registry.store_journal_events(caller.terminal_id, items, head_seq=body.head_seq)
            )
        except SyncConflict as exc:
            raise ApiError(409, "sync_conflict", exc.message) from None
        return SyncAck(acked_seq=held)

    @app.get("/v1/reports/daily", response_model=DailyReport, tags=["reports"])
    async def daily_report(
        request: Request,
        caller: Authed,
        day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, default today")] = None,
        scope: Annotated[Breadth, Query(description="This terminal's figures, or its whole store's.")] = "terminal",
    ) -> DailyReport:
        """Totals by channel for one day, and the payments still being settled (this terminal's or store's)."""
        use_cases = _use_cases(request)
        the_day = day or date.fromisoformat(use_cases.context.business_day(now()))
        report: DailyReport = await use_cases.reports.daily_report(the_day, caller.scope(scope))
        return report

    @app.get("/v1/reports/terminals", response_model=list[TerminalDayComparison], tags=["reports"])
    async def terminal_comparison(
        request: Request,
        caller: Authed,
        day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, default today")] = None,
        scope: Annotated[Breadth, Query(description="This terminal, or every terminal of its store.")] = "terminal",
    ) -> list[TerminalDayComparison]:
        """Per terminal: totals of its synced journal beside the engine's ledger, and every difference."""
        use_cases = _use_cases(request)
        the_day = day or date.fromisoformat(use_cases.context.business_day(now()))
        return await use_cases.reports.terminal_days(the_day, caller.scope(scope))

    @app.get("/v1/channels", response_model=ChannelsView, tags=["payments"])
    async def channels(request: Request, caller: Authed) -> ChannelsView:
        """Which wallet channels take new payments now (their circuit breakers), and what to say if not."""
        use_cases = _use_cases(request)
        one_qr_problem = use_cases.pages.one_qr_problem()
        return ChannelsView(
            channels=use_cases.context.channel_status(), one_qr=one_qr_problem is None, one_qr_message=one_qr_problem
        )

    @app.post("/v1/store-code", response_model=StoreCode, tags=["payments"])
    async def store_code(request: Request, caller: Authed, body: StoreCodeRequest) -> StoreCode:
        """This till's printed store QR (the same each time; ``rotate`` replaces it)."""
        return await _use_cases(request).pages.store_code(caller.terminal_id, caller.store_id, rotate=body.rotate)

    @app.get("/v1/payments", response_model=PaymentList, tags=["payments"])
    async def list_payments(
        request: Request,
        caller: Authed,
        mode: Annotated[Literal["store_qr"], Query(description="Only store_qr is listed.")],
        since: Annotated[datetime, Query(description="ISO time: payments changed since then.")],
    ) -> PaymentList:
        """This till's store-QR payments changed since ``since`` (what the event stream may have missed)."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return PaymentList(payments=await _use_cases(request).pages.store_payments(caller.terminal_id, since))

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Alive: the process answers (a load balancer restarts it otherwise)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "Not ready: the body says why."}})
    async def readyz(request: Request) -> JSONResponse:
        """Ready to serve: the ledger answers and its schema is current (channel states reported beside)."""
        try:
            result = await asyncio.wait_for(
                run_in_threadpool(_state(request).readiness.check), timeout=READINESS_TIMEOUT_S
            )
        except TimeoutError:
            body: dict[str, object] = {"status": "not_ready", "database": "no answer in time", "schema": "unknown"}
            return JSONResponse(body, status_code=503)
        return JSONResponse(result.as_json(), status_code=200 if result.ready else 503)

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
    app.include_router(pages_router)  # the customer's one-QR and store-QR pages (unsigned)
    app.include_router(console_router)  # the console's acts, signed with the console key
    app.gateway = gateway
    app.shedder = shedder
    return app


async def _event_stream(events: Events, caller: Caller, start: int) -> AsyncIterator[ServerSentEvent]:
    """Everything after ``start``, then each new event as it happens (this process's changes wake us)."""
    last = start
    batch: list[PaymentEvent] = await events.events_since(caller, last, EVENTS_PAGE)
    while True:
        for item in batch:
            last = max(last, item.event_id)
            yield ServerSentEvent(data=item.model_dump_json(), id=str(item.event_id), event=item.type)
        if len(batch) == EVENTS_PAGE:  # a full page: more may be waiting
            batch = await events.events_since(caller, last, EVENTS_PAGE)
        else:
            # Reads once more before sleeping (anything committed since the last read is caught), so
            # no read of its own is needed here: one ledger read fewer per event, and each runs while
            # a payment is being created (the events of a QR order arrive during its create call).
            batch = await events.wait_for_events(caller, last, SSE_HEARTBEAT_S, limit=EVENTS_PAGE)
