"""Reconciliation (owners): a day's bills against the ledger, per channel — matched counts, every
difference by kind with the action taken or needed, the upload status — and its CSV.

The bills are per merchant account, across every store, so only owners see this page; a store
manager gets "not found" like any page outside their store. A download is audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console import accounts
from pos_app.console.reconciliation import load_day, report_csv
from pos_app.console.web import client_of, not_found, render, signed_in, state, to_login
from pos_app.domain.china_time import china_day
from pos_app.i18n import N_


def _day(request: Request) -> date | None:
    asked = request.query_params.get("day")
    if not asked:
        return china_day(datetime.now(UTC)) - timedelta(days=1)  # bills come the next morning
    try:
        return date.fromisoformat(asked)
    except ValueError:
        return None


async def reconciliation_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    if not viewer.is_owner:
        return not_found(request, viewer)
    day = _day(request)
    if day is None:
        context = {
            "day": request.query_params.get("day", "")[:10],
            "report": None,
            "error": N_("Type the day as YYYY-MM-DD."),
        }
        return render(request, "reconciliation.html", context, viewer=viewer, status=400)
    report = await run_in_threadpool(load_day, state(request).home, day)
    shown: dict[str, object] = {"day": day.isoformat(), "report": report, "error": None}
    return render(request, "reconciliation.html", shown, viewer=viewer)


async def reconciliation_csv(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    day = _day(request)
    if not viewer.is_owner or day is None:
        return not_found(request, viewer)
    body = await run_in_threadpool(report_csv, state(request).home, day)
    if body is None:
        return not_found(request, viewer)
    await run_in_threadpool(
        accounts.record,
        state(request).ledger,
        viewer=viewer,
        action="reconciliation.csv",
        detail=day.isoformat(),
        client=client_of(request),
    )
    return Response(
        b"\xef\xbb\xbf" + body,  # a BOM: Excel reads the file as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{day.isoformat()}.csv"'},
    )


ROUTES = [
    Route("/reconciliation", reconciliation_page, methods=["GET"]),
    Route("/reconciliation.csv", reconciliation_csv, methods=["GET"]),
]
