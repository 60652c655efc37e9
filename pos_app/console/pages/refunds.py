"""Refunds: a day's refunds in the viewer's stores, each with its state and who approved it.
(Starting a refund from the console is not built yet: the tills start them, with a manager's PIN.)"""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console.refunds import refunds_of_day
from pos_app.console.web import render, signed_in, state, to_login
from pos_app.domain.china_time import china_day
from pos_app.i18n import N_


async def refunds_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    error = None
    try:
        day = date.fromisoformat(request.query_params.get("day") or china_day(datetime.now(UTC)).isoformat())
    except ValueError:
        error, day = N_("Type the day as YYYY-MM-DD."), china_day(datetime.now(UTC))
    rows = await run_in_threadpool(refunds_of_day, state(request).reads, day.isoformat(), viewer.stores())
    context = {"day": day.isoformat(), "rows": rows, "error": error}
    return render(request, "refunds.html", context, viewer=viewer, status=400 if error else 200)


ROUTES = [Route("/refunds", refunds_page, methods=["GET"])]
