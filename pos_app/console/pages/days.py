"""Days: for a business day, each till's journal (as synced) beside the ledger — totals by channel on
both sides and every difference, each linked to its payment; and each till's Z reports and the
money-surprise alerts it raised that day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console.days import till_days
from pos_app.console.till_events import ACTION_WORDS, ALERT_WORDS, SAW_WORDS, till_day_events
from pos_app.console.today import known_stores
from pos_app.console.web import render, signed_in, state, to_login
from pos_app.domain.china_time import china_day
from pos_app.i18n import N_


async def days_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    error = None
    try:
        day = date.fromisoformat(request.query_params.get("day") or china_day(datetime.now(UTC)).isoformat())
    except ValueError:
        error, day = N_("Type the day as YYYY-MM-DD."), china_day(datetime.now(UTC))
    chosen = request.query_params.get("store") or None
    console = state(request)
    tills = await run_in_threadpool(till_days, console.reads, day, viewer.stores(chosen))
    # Only the tills till_days kept (the viewer's stores): no other till's events are read.
    events = await run_in_threadpool(till_day_events, console.reads, [c.terminal_id for _, c in tills], day)
    store_choices = await run_in_threadpool(known_stores, console.reads) if viewer.is_owner else []
    context = {
        "day": day.isoformat(),
        "tills": tills,
        "events": events,
        "alert_words": ALERT_WORDS,
        "saw_words": SAW_WORDS,
        "action_words": ACTION_WORDS,
        "store_choices": store_choices,
        "chosen_store": chosen if viewer.is_owner else viewer.store_id,
        "error": error,
    }
    return render(request, "days.html", context, viewer=viewer, status=400 if error else 200)


ROUTES = [Route("/days", days_page, methods=["GET"])]
