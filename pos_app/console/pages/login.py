"""Sign in and out.

The sign-in form is protected against cross-site posting before any session exists: the browser
gets a random nonce in an HttpOnly, SameSite=Strict cookie and the form carries its HMAC under the
console key; a post whose token does not match its cookie is refused. Failed sign-ins are limited
per client address (in this process) and per account (in the ledger, so every console process
counts them); every attempt is audited.
"""

from __future__ import annotations

import secrets

from limits import parse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pos_app.console import accounts
from pos_app.console.secret_key import same, sign
from pos_app.console.web import (
    SESSION_COOKIE,
    client_of,
    render,
    set_session_cookie,
    signed_form,
    signed_in,
    state,
    to_login,
)
from pos_app.i18n import N_

NONCE_COOKIE = "pos_console_login"
#: Failed sign-ins one client address may make (a moving window), whatever the account names.
FAILED_PER_CLIENT = parse("10/minute")


def _form(request: Request, *, error: str | None = None, name: str = "", status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    context = {"form_token": sign(state(request).key, nonce), "error": error, "name": name}
    response = render(request, "login.html", context, viewer=None, status=status)
    response.set_cookie(
        NONCE_COOKIE, nonce, path="/login", httponly=True, samesite="strict", secure=state(request).secure_cookies
    )
    return response


async def login_page(request: Request) -> Response:
    if await signed_in(request) is not None:
        return RedirectResponse("/today", status_code=303)
    return _form(request)


async def login_post(request: Request) -> Response:
    console = state(request)
    form = await request.form()
    nonce = request.cookies.get(NONCE_COOKIE, "")
    token = form.get("form_token")
    if not nonce or not isinstance(token, str) or not same(token, sign(console.key, nonce)):
        return _form(request, error=N_("This form has expired — try again."), status=403)
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    client = client_of(request)
    if not console.login_limiter.test(FAILED_PER_CLIENT, client):
        return _form(
            request, error=N_("Too many failed sign-ins from this address — wait a minute."), name=name, status=429
        )
    outcome = await run_in_threadpool(
        accounts.sign_in,
        console.ledger,
        name=name,
        password=password,
        client=client,
        lifetime=console.session_lifetime,
        replaces=request.cookies.get(SESSION_COOKIE),
    )
    if isinstance(outcome, accounts.Refused):
        console.login_limiter.hit(FAILED_PER_CLIENT, client)
        if outcome.locked_for_s:
            return _form(
                request, error=N_("Too many wrong passwords for this account — try again later."), name=name, status=429
            )
        return _form(request, error=N_("Wrong name or password."), name=name, status=401)
    response = RedirectResponse("/today", status_code=303)
    set_session_cookie(request, response, outcome.token)
    response.delete_cookie(NONCE_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    signed = await signed_form(request)
    if isinstance(signed, Response):
        return signed
    viewer, form = signed
    token = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(
        accounts.sign_out, state(request).ledger, token=token, viewer=viewer, client=client_of(request)
    )
    response = to_login()
    set_session_cookie(request, response, None)
    return response


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_post, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
