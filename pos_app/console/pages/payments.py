"""Payments: the search, its CSV download, and one payment's page with its trail.

Every query carries the viewer's stores: a payment of another store is "not found", on the page,
in the download and by URL guessing alike. A download is audited (who, which filter).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from urllib.parse import urlencode

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pos_app.console import accounts
from pos_app.console.query_form import STATES, read_search
from pos_app.console.search import PAGE_SIZE, PaymentQuery, export_payments, payment_trail, search_payments
from pos_app.console.shown import moment
from pos_app.console.web import SECURITY_HEADERS, client_of, not_found, render, signed_in, state, to_login
from pos_app.domain.money import fen_to_yuan
from pos_app.engine.store.models import Payment

CSV_COLUMNS = (
    "out_trade_no", "store_id", "terminal_id", "channel", "mode", "state", "amount_yuan", "refunded_yuan",
    "operator", "transaction_id", "business_day", "created_at", "paid_at",
)  # fmt: skip


async def payments_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    form = read_search(request.query_params)
    rows = []
    if form.error is None:
        rows = await run_in_threadpool(search_payments, state(request).reads, form.query, viewer.stores(form.store))
    kept = {k: v for k, v in form.fields.items() if v and k != "before"}
    more = None
    if len(rows) == PAGE_SIZE and rows[-1].id is not None:
        more = "/payments?" + urlencode({**kept, "before": rows[-1].id})
    context = {
        "form": form,
        "rows": rows,
        "states": STATES,
        "more": more,
        "download": "/payments.csv" + ("?" + urlencode(kept) if kept else ""),
    }
    return render(request, "payments.html", context, viewer=viewer, status=400 if form.error else 200)


def _csv_lines(rows: Iterator[Payment]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for p in rows:
        writer.writerow(
            [
                p.out_trade_no, p.store_id, p.terminal_id, p.channel, p.mode, p.state,
                fen_to_yuan(p.amount_fen), fen_to_yuan(p.refunded_fen),
                p.operator, p.transaction_id or "", p.business_day,
                moment(p.created_at), moment(p.paid_at) if p.paid_at else "",
            ]
        )  # fmt: skip
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


async def payments_csv(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    form = read_search(request.query_params)
    if form.error is not None:
        return render(request, "error.html", {"message": form.error}, viewer=viewer, status=400)
    query = PaymentQuery(**{**form.query.__dict__, "before_id": None})
    stores = viewer.stores(form.store)
    detail = urlencode({k: v for k, v in form.fields.items() if v}) or "all"
    await run_in_threadpool(
        accounts.record,
        state(request).ledger,
        viewer=viewer,
        action="payments.csv",
        detail=detail,
        client=client_of(request),
    )
    rows = export_payments(state(request).reads, query, stores)
    return StreamingResponse(
        iterate_in_threadpool(_csv_lines(rows)),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="payments.csv"'},
    )


async def payment_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    out_trade_no = request.path_params["out_trade_no"]
    trail = await run_in_threadpool(payment_trail, state(request).reads, out_trade_no, viewer.stores())
    if trail is None:
        return not_found(request, viewer)
    return render(request, "payment.html", {"trail": trail}, viewer=viewer)


ROUTES = [
    Route("/payments", payments_page, methods=["GET"]),
    Route("/payments.csv", payments_csv, methods=["GET"]),
    Route("/payments/{out_trade_no}", payment_page, methods=["GET"]),
]
