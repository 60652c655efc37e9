"""Terminals: the tills of the viewer's stores and the activation codes waiting to be used."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console.terminals import tills, waiting_codes
from pos_app.console.web import render, signed_in, state, to_login


async def terminals_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    reads = state(request).reads
    rows = await run_in_threadpool(tills, reads, viewer.stores())
    codes = await run_in_threadpool(waiting_codes, reads, viewer.stores(), now=datetime.now(UTC))
    return render(request, "terminals.html", {"tills": rows, "codes": codes}, viewer=viewer)


ROUTES = [Route("/terminals", terminals_page, methods=["GET"])]
