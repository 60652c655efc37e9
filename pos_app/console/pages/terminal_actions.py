"""Acting on tills from the Terminals page: disable one, or make an activation code.

Both go through the engine (``engine_link``), which owns the terminal registry and checks the store
scope again; the console checks the session, the CSRF token and that the till or store is the
viewer's (a manager of store A guessing store B's till gets "not found" and nothing happens).
Every act and every refusal is audited; an activation code is shown once and never audited or logged.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pos_app.api.console_link import ConsoleActivationCode, ConsoleTerminalDisable
from pos_app.console import accounts
from pos_app.console.engine_link import EngineRefused
from pos_app.console.pages.refund_start import acting
from pos_app.console.pages.terminals import show_terminals
from pos_app.console.terminals import tills
from pos_app.console.viewer import Viewer
from pos_app.console.web import client_of, signed_form, state
from pos_app.i18n import N_


def _field(form: FormData, name: str, max_len: int) -> str:
    value = form.get(name)
    return value.strip()[:max_len] if isinstance(value, str) else ""


async def _audit(request: Request, viewer: Viewer, action: str, detail: str) -> None:
    await run_in_threadpool(
        accounts.record, state(request).ledger, viewer=viewer, action=action, detail=detail, client=client_of(request)
    )


async def disable_terminal(request: Request) -> Response:
    signed = await signed_form(request)
    if isinstance(signed, Response):
        return signed
    viewer, form = signed
    terminal_id = _field(form, "terminal_id", 4)
    mine = await run_in_threadpool(tills, state(request).reads, viewer.stores())
    if not any(t.terminal_id == terminal_id for t in mine):
        await _audit(request, viewer, "terminal_disable_refused", f"{terminal_id}: not in the viewer's stores")
        return await show_terminals(request, viewer, {"error": N_("No such till in your stores.")}, status=404)
    try:
        done = await state(request).engine.disable_terminal(
            ConsoleTerminalDisable(acting=acting(viewer), terminal_id=terminal_id)
        )
    except EngineRefused as refused:
        await _audit(request, viewer, "terminal_disable_refused", f"{terminal_id}: {refused.message}")
        return await show_terminals(
            request, viewer, {"error": refused.message}, status=502 if not refused.status else 400
        )
    await _audit(request, viewer, "terminal_disable", f"{done.terminal_id} of store {done.store_id}")
    return RedirectResponse("/terminals", status_code=303)


async def make_activation_code(request: Request) -> Response:
    signed = await signed_form(request)
    if isinstance(signed, Response):
        return signed
    viewer, form = signed
    store_id = _field(form, "store_id", 6) if viewer.is_owner else (viewer.store_id or "")
    terminal_id = _field(form, "terminal_id", 4) or None
    if not store_id:
        return await show_terminals(request, viewer, {"error": N_("Choose the store of the new till.")}, status=400)
    asked = ConsoleActivationCode(acting=acting(viewer), store_id=store_id, terminal_id=terminal_id)
    try:
        made = await state(request).engine.activation_code(asked)
    except EngineRefused as refused:
        await _audit(request, viewer, "activation_code_refused", f"store {store_id}: {refused.message}")
        return await show_terminals(
            request, viewer, {"error": refused.message}, status=502 if not refused.status else 400
        )
    await _audit(request, viewer, "activation_code", f"store {made.store_id} till {made.terminal_id or 'any'}")
    return await show_terminals(request, viewer, {"made": made})


ROUTES = [
    Route("/terminals/disable", disable_terminal, methods=["POST"]),
    Route("/terminals/codes", make_activation_code, methods=["POST"]),
]
