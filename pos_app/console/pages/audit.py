"""Audit: the newest console actions — sign-ins (failed ones too), sign-outs, downloads, account
changes. Owners only: a store manager gets "not found", as for any page they may not see."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console.web import not_found, render, signed_in, state, to_login
from pos_app.engine.store.console_accounts import ConsoleAudit, recent_audit


def _recent(engine: Engine) -> Sequence[ConsoleAudit]:
    with Session(engine) as session:
        return recent_audit(session, limit=200)


async def audit_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    if not viewer.is_owner:
        return not_found(request, viewer)
    rows = await run_in_threadpool(_recent, state(request).reads)
    return render(request, "audit.html", {"rows": rows}, viewer=viewer)


ROUTES = [Route("/audit", audit_page, methods=["GET"])]
