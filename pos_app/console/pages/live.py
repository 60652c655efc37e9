"""The Today page's live view: a server-sent event stream saying "changed" whenever a payment of
the shown day and stores is added or changes state (the page then fetches its figures again).

The console looks in the ledger every ``[console] live_poll_s`` for a cheap fingerprint of the day
(count, latest update) rather than holding a link to the engine's event stream, which is signed per
terminal. The stream ends when the browser goes or its session ends (sign-out, account disabled).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pos_app.console import accounts
from pos_app.console.pages.today import asked_day
from pos_app.console.today import day_fingerprint
from pos_app.console.web import SESSION_COOKIE, signed_in, state

KEEP_ALIVE_S = 15.0  # a comment line now and then, so that proxies keep an idle stream open


async def changes(request: Request) -> Response:
    viewer = await signed_in(request)
    day = asked_day(request.query_params.get("day"))
    if viewer is None or day is None:
        return Response(status_code=401 if viewer is None else 400)
    stores = viewer.stores(request.query_params.get("store") or None)
    token = request.cookies.get(SESSION_COOKIE, "")
    console = state(request)

    async def events() -> AsyncIterator[str]:
        # What the page showed (so nothing between rendering it and opening this stream is missed).
        last = request.query_params.get("seen") or await run_in_threadpool(day_fingerprint, console.reads, day, stores)
        yield "retry: 5000\n\n"
        quiet = 0.0
        while True:
            await asyncio.sleep(console.live_poll_s)
            if await run_in_threadpool(accounts.viewer_of, console.reads, token) is None:
                return
            now = await run_in_threadpool(day_fingerprint, console.reads, day, stores)
            if now != last:
                last, quiet = now, 0.0
                yield "data: changed\n\n"
            else:
                quiet += console.live_poll_s
                if quiet >= KEEP_ALIVE_S:
                    quiet = 0.0
                    yield ": still here\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})


ROUTES = [Route("/today/changes", changes, methods=["GET"])]
