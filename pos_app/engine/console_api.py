"""The engine's console routes (``/console/v1``): refunds, disabling a till, activation codes.

The console (``pos console serve``) holds no gateway key and writes no payment: it asks here. Each
request is signed with the console key (:mod:`pos_app.api.console_link`), checked in this module
(the terminal edge guard signs only ``/v1``), and names the console user and the stores they act for
inside the signed body. Every act is refused outside those stores with the same "not found" as an
unknown row, so a manager of store A learns nothing of store B by guessing. The console audits each
act; the engine logs it. The use cases (refunds with the manager approval they require, the
terminal registry) are the ones the tills use.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from pos_app.api import auth
from pos_app.api.console_link import (
    CONSOLE_ID,
    HEADER_CONSOLE,
    NONCE_OWNER,
    PREFIX,
    ActivationCodeMade,
    ConsoleActivationCode,
    ConsoleRefund,
    ConsoleTerminalDisable,
    TerminalDisabled,
)
from pos_app.api.schemas import CreateRefund, RefundView
from pos_app.domain.errors import PosError
from pos_app.engine.errors import PaymentNotFound
from pos_app.engine.header_values import header_int
from pos_app.engine.http_errors import ApiError
from pos_app.secret_files import read_key_text

log = logging.getLogger(__name__)

router = APIRouter(prefix=PREFIX, tags=["console"])
_UNAUTH = {"WWW-Authenticate": "X-Pos-Signature"}


def _refused(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, _UNAUTH)


def _console_key(key_file: Path) -> bytes:
    """The shared console key, read at each request (small; a key made after the engine started works)."""
    try:
        return auth.decode_key(read_key_text(key_file, secret=True))
    except (PosError, ValueError) as exc:
        log.warning("console request refused: the console key file cannot be used (%s)", type(exc).__name__)
        raise ApiError(
            503,
            "console_not_linked",
            "The engine has no usable console key — run `pos console engine-key` on the engine's profile.",
        ) from None


async def _signed_by_console(request: Request) -> None:
    """Refuses (401) a request not signed by the console key, stale, or replayed; reads the body once."""
    state = request.app.state.engine
    headers = request.headers
    console = headers.get(HEADER_CONSOLE, "")
    timestamp = headers.get(auth.HEADER_TIMESTAMP, "")
    nonce = headers.get(auth.HEADER_NONCE, "")
    signature = headers.get(auth.HEADER_SIGNATURE, "")
    if console != CONSOLE_ID or not (timestamp and nonce and signature) or not 8 <= len(nonce) <= 64:
        raise _refused("unsigned", "This request is not signed by the console.")
    sent_at = header_int(timestamp, max_digits=12)
    now: datetime = state.clock()
    if sent_at is None or abs(now.timestamp() - sent_at) > auth.MAX_SKEW_S:
        raise _refused("clock_skew", "The console's clock is off from the engine's — correct it, then try again.")
    key = await run_in_threadpool(_console_key, state.settings.path(state.settings.console.engine_key_file))
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not auth.verify(key, request.method, path, timestamp, nonce, body, signature):
        log.warning("console request refused: bad signature on %s", request.url.path)
        raise _refused("bad_signature", "The request signature is wrong — the console and engine keys differ.")
    keep_until = datetime.fromtimestamp(max(sent_at, int(now.timestamp())), UTC) + timedelta(
        seconds=auth.MAX_SKEW_S + 1
    )
    fresh = await run_in_threadpool(state.registry.remember_nonce, NONCE_OWNER, nonce, keep_until=keep_until)
    if not fresh:
        raise _refused("replayed", "This request was already received once (replayed nonce) — it was not run again.")


Console = Annotated[None, Depends(_signed_by_console)]


@router.post("/refunds", response_model=RefundView)
async def console_refund(request: Request, _signed: Console, body: ConsoleRefund) -> RefundView:
    """Refund a payment of the acting user's stores, approved by a manager of its store (name + PIN)."""
    use_cases = request.app.state.engine.use_cases
    payment = await use_cases.context.load_payment(body.out_trade_no)
    if not body.acting.allows(payment.store_id):
        log.warning("console user %r refused a refund of %s (another store)", body.acting.user, body.out_trade_no)
        raise PaymentNotFound()
    req = CreateRefund(
        out_refund_no=body.out_refund_no,
        amount_fen=body.amount_fen,
        reason=body.reason,
        operator=f"console:{body.acting.user}"[:64],
        approver=body.approver,
        approver_pin=body.approver_pin,
    )
    view: RefundView = await use_cases.refunds.create_refund(payment.terminal_id, body.out_trade_no, req)
    log.info("console user %r started refund %s of %s", body.acting.user, body.out_refund_no, body.out_trade_no)
    return view


@router.post("/terminals/disable", response_model=TerminalDisabled)
async def console_disable_terminal(
    request: Request, _signed: Console, body: ConsoleTerminalDisable
) -> TerminalDisabled:
    """Stop accepting a till of the acting user's stores (a new activation code brings it back)."""
    registry = request.app.state.engine.registry
    row = await run_in_threadpool(registry.terminal, body.terminal_id)
    if row is None or not body.acting.allows(row.store_id):
        log.warning("console user %r refused to disable terminal %r", body.acting.user, body.terminal_id)
        raise ApiError(404, "not_found", f"No terminal {body.terminal_id} in your stores.")
    await run_in_threadpool(registry.disable, body.terminal_id)
    log.info("console user %r disabled terminal %s of store %s", body.acting.user, row.terminal_id, row.store_id)
    return TerminalDisabled(terminal_id=row.terminal_id, store_id=row.store_id)


@router.post("/activation-codes", response_model=ActivationCodeMade)
async def console_activation_code(
    request: Request, _signed: Console, body: ConsoleActivationCode
) -> ActivationCodeMade:
    """A one-time activation code for a till of one of the acting user's stores."""
    state = request.app.state.engine
    if not body.acting.allows(body.store_id):
        log.warning("console user %r refused an activation code for store %s", body.acting.user, body.store_id)
        raise ApiError(404, "not_found", f"No store {body.store_id} in your stores.")
    ttl = timedelta(minutes=body.ttl_minutes)
    now: datetime = state.clock()
    code = await run_in_threadpool(
        lambda: state.registry.new_activation_code(ttl=ttl, store_id=body.store_id, terminal_id=body.terminal_id)
    )
    log.info("console user %r made an activation code for store %s", body.acting.user, body.store_id)
    return ActivationCodeMade(code=code, store_id=body.store_id, terminal_id=body.terminal_id, expires_at=now + ttl)
