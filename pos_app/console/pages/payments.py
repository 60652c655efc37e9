"""Payments: the search and one payment's page with its trail (downloads: ``export.py``).

Every query carries the viewer's stores: a payment of another store is "not found", on the page,
in the download and by URL guessing alike. A download is audited (who, which filter).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.console.pages.refund_start import payment_context
from pos_app.console.query_form import STATES, read_search
from pos_app.console.search import PAGE_SIZE, payment_trail, search_payments
from pos_app.console.today import known_stores
from pos_app.console.web import not_found, render, signed_in, state, to_login


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
    store_choices = await run_in_threadpool(known_stores, state(request).reads) if viewer.is_owner else []
    context = {
        "store_choices": store_choices,
        "form": form,
        "rows": rows,
        "states": STATES,
        "more": more,
        "download": "/payments.csv" + ("?" + urlencode(kept) if kept else ""),
    }
    return render(request, "payments.html", context, viewer=viewer, status=400 if form.error else 200)


async def payment_page(request: Request) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    out_trade_no = request.path_params["out_trade_no"]
    trail = await run_in_threadpool(payment_trail, state(request).reads, out_trade_no, viewer.stores())
    if trail is None:
        return not_found(request, viewer)
    return render(request, "payment.html", payment_context(trail), viewer=viewer)


ROUTES = [
    Route("/payments", payments_page, methods=["GET"]),
    Route("/payments/{out_trade_no}", payment_page, methods=["GET"]),
]
