"""Terminals: the tills of the viewer's stores and the activation codes waiting to be used; a
manager disables a till or makes an activation code here (``terminal_actions``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console.terminals import tills, waiting_codes
from pos_app.console.today import known_stores
from pos_app.console.viewer import Viewer
from pos_app.console.web import render, signed_in, state, to_login


async def show_terminals(
    request: Request, viewer: Viewer, extra: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    reads = state(request).reads
    rows = await run_in_threadpool(tills, reads, viewer.stores())
    codes = await run_in_threadpool(waiting_codes, reads, viewer.stores(), now=datetime.now(UTC))
    stores = await run_in_threadpool(known_stores, reads) if viewer.is_owner else [viewer.store_id]
    context: dict[str, Any] = {"tills": rows, "codes": codes, "stores": stores, "made": None, "error": None}
    context.update(extra or {})
    return render(request, "terminals.html", context, viewer=viewer, status=status)


async def terminals_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    return await show_terminals(request, viewer)


ROUTES = [Route("/terminals", terminals_page, methods=["GET"])]
