"""Downloads of a payment search: CSV (streamed, with a BOM so Excel reads it as UTF-8) or XLSX.

The same form and the same store scope as the Payments page: a store manager's download holds their
store's payments only, whatever the URL asks. Every download is audited (who, which filter).
"""

from __future__ import annotations

import csv
import importlib.util
import io
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlencode

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pos_app.console import accounts
from pos_app.console.query_form import read_search
from pos_app.console.search import export_payments
from pos_app.console.shown import moment
from pos_app.console.web import SECURITY_HEADERS, client_of, render, signed_in, state, to_login
from pos_app.domain.money import fen_to_yuan
from pos_app.engine.store.models import Payment
from pos_app.i18n import N_

COLUMNS = (
    "out_trade_no", "store_id", "terminal_id", "channel", "mode", "state", "amount_yuan", "refunded_yuan",
    "operator", "transaction_id", "business_day", "created_at", "paid_at",
)  # fmt: skip
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(text: str) -> str:
    """A text a till typed (a cashier's name) never becomes a spreadsheet formula (CSV/formula injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _row(p: Payment) -> list[str]:
    return [
        p.out_trade_no, p.store_id, p.terminal_id, p.channel or "", p.mode, p.state,
        fen_to_yuan(p.amount_fen), fen_to_yuan(p.refunded_fen), _cell(p.operator), p.transaction_id or "",
        p.business_day, moment(p.created_at), moment(p.paid_at) if p.paid_at else "",
    ]  # fmt: skip


def _csv_lines(rows: Iterator[Payment]) -> Iterator[str]:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for p in rows:
        writer.writerow(_row(p))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _xlsx(rows: Iterator[Payment]) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    sheet = book.create_sheet("payments")
    sheet.append(list(COLUMNS))
    for p in rows:
        sheet.append(_row(p))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def download(request: Request, kind: str) -> Response:
    viewer = await signed_in(request)
    if viewer is None:
        return to_login()
    form = read_search(request.query_params)
    if form.error is not None:
        return render(request, "error.html", {"message": form.error}, viewer=viewer, status=400)
    if kind == "xlsx" and importlib.util.find_spec("openpyxl") is None:
        message = N_("Excel downloads need the 'xlsx' part of pos-app (pip install 'pos-app[xlsx]'); CSV works.")
        return render(request, "error.html", {"message": message}, viewer=viewer, status=501)
    console = state(request)
    await run_in_threadpool(
        accounts.record,
        console.ledger,
        viewer=viewer,
        action=f"payments.{kind}",
        detail=urlencode({k: v for k, v in form.fields.items() if v}) or "all",
        client=client_of(request),
    )
    rows = export_payments(console.reads, replace(form.query, before_id=None), viewer.stores(form.store))
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="payments.{kind}"'}
    if kind == "xlsx":
        return Response(await run_in_threadpool(_xlsx, rows), media_type=XLSX_TYPE, headers=headers)
    return StreamingResponse(
        iterate_in_threadpool(_csv_lines(rows)), media_type="text/csv; charset=utf-8", headers=headers
    )


async def csv_download(request: Request) -> Response:
    return await download(request, "csv")


async def xlsx_download(request: Request) -> Response:
    return await download(request, "xlsx")


ROUTES = [
    Route("/payments.csv", csv_download, methods=["GET"]),
    Route("/payments.xlsx", xlsx_download, methods=["GET"]),
]
