"""What every console page shares: the process state, rendering a template in the viewer's language,
who is signed in, CSRF checks, cookies and the security headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pos_app.console import accounts, language, shown
from pos_app.console.engine_link import EngineLink
from pos_app.console.secret_key import same
from pos_app.console.viewer import Viewer
from pos_app.i18n import N_

SESSION_COOKIE = "pos_console_session"
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

# Pages come only from this origin: no inline script or style, no framing, forms post only here.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class ConsoleState:
    ledger: Engine  # writes: the console's own tables (accounts, sessions, audit)
    reads: Engine  # the same pool for read-only transactions (no write lock on SQLite)
    key: bytes  # [console] secret_key_file: signs the sign-in form's token
    session_lifetime: timedelta
    secure_cookies: bool
    login_limiter: MovingWindowRateLimiter  # failed sign-ins per client address
    live_poll_s: float  # how often a live Today page's stream looks in the ledger
    env: jinja2.Environment
    engine: EngineLink  # the console's signed calls to the engine (refunds, tills)
    home: Path  # the profile's folder: `pos reconcile` leaves its reports under home/reconcile/


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["money"] = shown.money
    env.filters["moment"] = shown.moment
    env.filters["labelled"] = shown.labelled
    env.filters["channel"] = shown.channel
    env.filters["channel_rows"] = shown.channel_rows
    env.filters["difference"] = shown.difference
    return env


def state(request: Request) -> ConsoleState:
    value: ConsoleState = request.app.state.console
    return value


def client_of(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def lang_of(request: Request) -> str:
    return language.choose(
        request.cookies.get(language.COOKIE),
        request.query_params.get("lang"),
        request.headers.get("accept-language", ""),
    )


def render(
    request: Request, template: str, context: dict[str, Any], *, viewer: Viewer | None, status: int = 200
) -> HTMLResponse:
    lang = lang_of(request)
    body = (
        state(request)
        .env.get_template(template)
        .render(**context, _=language.translator(lang), lang=lang, viewer=viewer, path=request.url.path)
    )
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") == lang:
        response.set_cookie(language.COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


async def signed_in(request: Request) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_threadpool(accounts.viewer_of, state(request).reads, token)


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def csrf_ok(viewer: Viewer, form: FormData) -> bool:
    sent = form.get("csrf")
    return isinstance(sent, str) and same(sent, viewer.csrf_token)


async def signed_form(request: Request) -> tuple[Viewer, FormData] | Response:
    """A posted form of a signed-in manager with its CSRF token right; otherwise the answer to give
    (to the sign-in page, or 403 "this form has expired")."""
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    form = await request.form()
    if not csrf_ok(viewer, form):
        return forbidden(request, viewer)
    return viewer, form


def forbidden(request: Request, viewer: Viewer | None) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"message": N_("This form has expired — reload the page and try again.")},
        viewer=viewer,
        status=403,
    )


def not_found(request: Request, viewer: Viewer | None) -> HTMLResponse:
    return render(request, "error.html", {"message": N_("Not found.")}, viewer=viewer, status=404)


def set_session_cookie(request: Request, response: Response, token: str | None) -> None:
    console = state(request)
    if token is None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=console.secure_cookies
        )
        return
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(console.session_lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=console.secure_cookies,
    )
