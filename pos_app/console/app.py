"""The console's web application: ``create_console_app(settings)`` (the CLI and the tests build it alike)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pos_app.config import Settings
from pos_app.console.pages import audit, days, export, login, payments, refunds, terminals, today
from pos_app.console.secret_key import load_or_create_key
from pos_app.console.web import SECURITY_HEADERS, STATIC, ConsoleState, make_environment
from pos_app.engine.store.db import open_ledger, reader

log = logging.getLogger(__name__)


async def _home(request: Request) -> Response:
    return RedirectResponse("/today", status_code=303)


async def _healthz(request: Request) -> Response:
    return Response("ok", media_type="text/plain")


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response


def create_console_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ledger = open_ledger(settings.database_url)
        app.state.console = ConsoleState(
            ledger=ledger,
            reads=reader(ledger),
            key=load_or_create_key(settings.path(settings.console.secret_key_file)),
            session_lifetime=timedelta(hours=settings.console.session_hours),
            secure_cookies=settings.console.secure_cookies,
            login_limiter=MovingWindowRateLimiter(MemoryStorage()),
            env=make_environment(),
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
        *export.ROUTES,
        *payments.ROUTES,
        *refunds.ROUTES,
        *days.ROUTES,
        *terminals.ROUTES,
        *audit.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(_SecurityHeaders)])
