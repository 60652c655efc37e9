"""Starting a refund from a payment's page: the form posts here, the engine refunds.

The console checks the session, the CSRF token and that the viewer may see the payment, then asks
the engine (``engine_link``), which checks the store scope again and requires the approving
manager's name and PIN exactly as it does from a till. Every attempt is audited (never the PIN).
On success the browser goes back to the payment's page, which refreshes until the refund settles.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pos_app.api.console_link import Acting, ConsoleRefund
from pos_app.console import accounts
from pos_app.console.engine_link import EngineRefused
from pos_app.console.refund_form import OPEN_STATES, RefundForm, new_refund_no, read_refund_form
from pos_app.console.search import PaymentTrail, payment_trail
from pos_app.console.viewer import Viewer
from pos_app.console.web import (
    client_of,
    not_found,
    render,
    signed_form,
    state,
)
from pos_app.domain.money import format_fen


def acting(viewer: Viewer) -> Acting:
    """Who the engine is told acts, and for which stores (an owner: every store)."""
    stores = viewer.stores()
    return Acting(user=viewer.name, stores=None if stores is None else list(stores))


def payment_context(trail: PaymentTrail, form: RefundForm | None = None) -> dict[str, Any]:
    """The payment page's context: the trail, the refund form, and whether a refund is still open."""
    refundable = trail.payment.state in ("PAID", "PARTIALLY_REFUNDED")
    return {
        "trail": trail,
        "refund_form": form or RefundForm(refund_no=new_refund_no()),
        "refundable": refundable,
        "refund_open": any(r.state in OPEN_STATES for r in trail.refunds),
    }


async def start_refund(request: Request) -> Response:
    signed = await signed_form(request)
    if isinstance(signed, Response):
        return signed
    viewer, form = signed
    out_trade_no = request.path_params["out_trade_no"]
    console = state(request)
    trail = await run_in_threadpool(payment_trail, console.reads, out_trade_no, viewer.stores())
    if trail is None:
        return not_found(request, viewer)
    shown, ask = read_refund_form(form)
    if ask is None:
        return render(request, "payment.html", payment_context(trail, shown), viewer=viewer, status=400)
    detail = f"{out_trade_no} refund {ask.out_refund_no} {format_fen(ask.amount_fen)} approved by {ask.approver}"
    body = ConsoleRefund(
        acting=acting(viewer),
        out_trade_no=out_trade_no,
        out_refund_no=ask.out_refund_no,
        amount_fen=ask.amount_fen,
        reason=ask.reason,
        approver=ask.approver,
        approver_pin=ask.pin,
    )
    try:
        view = await console.engine.refund(body)
    except EngineRefused as refused:
        await run_in_threadpool(
            accounts.record,
            console.ledger,
            viewer=viewer,
            action="refund_refused",
            detail=f"{detail}: {refused.message}"[:500],
            client=client_of(request),
        )
        shown.error = refused.message
        status = 502 if refused.status in (0, 502, 503) else 400
        return render(request, "payment.html", payment_context(trail, shown), viewer=viewer, status=status)
    await run_in_threadpool(
        accounts.record,
        console.ledger,
        viewer=viewer,
        action="refund",
        detail=f"{detail}: {view.state.value}",
        client=client_of(request),
    )
    return RedirectResponse(f"/payments/{out_trade_no}?refund={view.out_refund_no}", status_code=303)


ROUTES = [Route("/payments/{out_trade_no}/refund", start_refund, methods=["POST"])]
