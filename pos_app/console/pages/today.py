"""Today: the day's takings by store, till, channel, cashier and hour (an owner: every store or one)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console.today import CHART_HEIGHT, day_figures, day_fingerprint, hour_bars, known_stores
from pos_app.console.web import render, signed_in, state, to_login
from pos_app.domain.china_time import china_day
from pos_app.i18n import N_


def asked_day(text: str | None) -> str | None:
    """The asked day as YYYY-MM-DD (today in China when not given); None when it is not a date."""
    if not text:
        return china_day(datetime.now(UTC)).isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


async def today_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    day = asked_day(request.query_params.get("day"))
    error = None
    if day is None:
        error, day = N_("Type the day as YYYY-MM-DD."), china_day(datetime.now(UTC)).isoformat()
    chosen = request.query_params.get("store") or None
    stores = viewer.stores(chosen)
    console = state(request)
    seen = await run_in_threadpool(day_fingerprint, console.reads, day, stores)  # before the figures: none missed
    figures = await run_in_threadpool(day_figures, console.reads, day, stores)
    store_choices = await run_in_threadpool(known_stores, console.reads) if viewer.is_owner else []
    context = {
        "figures": figures,
        "bars": hour_bars(figures),
        "chart_height": CHART_HEIGHT,
        "store_choices": store_choices,
        "chosen_store": chosen if viewer.is_owner else viewer.store_id,
        "error": error,
        "seen": seen,
    }
    template = "today_figures.html" if request.query_params.get("part") == "figures" else "today.html"
    return render(request, template, context, viewer=viewer, status=400 if error else 200)


ROUTES = [Route("/today", today_page, methods=["GET"])]
