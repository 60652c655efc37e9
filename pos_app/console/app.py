"""The console's web application: ``create_console_app(settings)`` (the CLI and the tests build it alike)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pos_app.config import Settings
from pos_app.console.accounts import ensure_demo_owner
from pos_app.console.engine_key import make_engine_key
from pos_app.console.engine_link import EngineLink
from pos_app.console.pages import (
    audit,
    days,
    export,
    live,
    login,
    payments,
    reconciliation,
    refund_start,
    refunds,
    terminal_actions,
    terminals,
    today,
)
from pos_app.console.secret_key import load_or_create_key
from pos_app.console.web import SECURITY_HEADERS, STATIC, ConsoleState, make_environment
from pos_app.domain.staff import DEMO_CONSOLE_USER
from pos_app.engine.store.db import open_ledger, reader

log = logging.getLogger(__name__)


async def _home(request: Request) -> Response:
    return RedirectResponse("/today", status_code=303)


async def _healthz(request: Request) -> Response:
    return Response("ok", media_type="text/plain")


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every answer (pure ASGI: streamed answers pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers and not (static and name == "Cache-Control"):
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_console_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ledger = open_ledger(settings.database_url)
        # On one profile (the embedded default, a demo) the engine reads this same file: linked at once.
        engine_key = settings.path(settings.console.engine_key_file)
        if make_engine_key(engine_key):
            log.info("console key made at %s (the engine reads the same file)", engine_key)
        if settings.terminal.sandbox and ensure_demo_owner(ledger):
            # Training mode only, like the demo PINs on the till's sign-in screen.
            log.info(
                "sandbox demo: console account %r made (its password is shown on the till's F2)", DEMO_CONSOLE_USER
            )
        app.state.console = ConsoleState(
            ledger=ledger,
            reads=reader(ledger),
            key=load_or_create_key(settings.path(settings.console.secret_key_file)),
            session_lifetime=timedelta(hours=settings.console.session_hours),
            secure_cookies=settings.console.secure_cookies,
            login_limiter=MovingWindowRateLimiter(MemoryStorage()),
            live_poll_s=settings.console.live_poll_s,
            env=make_environment(),
            home=settings.home,
            engine=EngineLink(settings.console.engine_url, settings.path(settings.console.engine_key_file)),
        )
        try:
            yield
        finally:
            ledger.dispose()

    routes = [
        Route("/", _home, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        *login.ROUTES,
        *today.ROUTES,
        *live.ROUTES,
        *export.ROUTES,
        *payments.ROUTES,
        *refund_start.ROUTES,
        *refunds.ROUTES,
        *days.ROUTES,
        *reconciliation.ROUTES,
        *terminals.ROUTES,
        *terminal_actions.ROUTES,
        *audit.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(_SecurityHeaders)])
