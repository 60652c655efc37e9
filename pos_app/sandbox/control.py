"""Control endpoints (used by `pos sandbox pay/authcode/fault` and tests) and the wallet web page.

- ``POST /sandbox/authcodes`` {channel, password_seconds, balance_fen, expired, user_cancels} → {auth_code}
- ``POST /sandbox/pay`` {qr, after_s, fail} → the :class:`~pos_app.sandbox.wallet.PayOutcome`
- ``GET|POST|DELETE /sandbox/faults``, ``DELETE /sandbox/faults/{id}``
- ``GET /sandbox/notifications`` (?gateway=&out_trade_no=), ``POST /sandbox/tick``
- ``GET|POST /sandbox/platform-certs`` (POST adds a certificate: a rotation)
- ``GET /wallet`` — plain HTML forms doing the same by hand (and ``POST /wallet/scan``: the simulated
  phone opening a one-QR/store-QR page); ``GET /healthz``
"""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from pos_app.domain.errors import PosError
from pos_app.domain.money import format_fen, parse_amount
from pos_app.sandbox.context import SandboxContext, get_ctx
from pos_app.sandbox.faults import Fault, FaultSpec
from pos_app.sandbox.keys import add_platform_cert
from pos_app.sandbox.phone import scan
from pos_app.sandbox.phone.report import conclusion, step_line
from pos_app.sandbox.wallet import FAIL_REASONS, UnknownQrCode, issue_auth_code, open_qr_codes, pay_native

router = APIRouter()
Ctx = Annotated[SandboxContext, Depends(get_ctx)]


class AuthCodeRequest(BaseModel):
    channel: Literal["wechat", "alipay"]
    password_seconds: float = Field(0, ge=0)
    balance_fen: int | None = Field(None, ge=0)
    expired: bool = False
    user_cancels: bool = False


class AuthCodeAnswer(BaseModel):
    auth_code: str
    channel: str


class PayBody(BaseModel):
    qr: str
    after_s: float = Field(0, ge=0)
    fail: str | None = None


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"ok": True, "service": "sandbox"}


@router.post("/sandbox/authcodes")
def post_authcode(body: AuthCodeRequest, ctx: Ctx) -> AuthCodeAnswer:
    code = issue_auth_code(
        ctx.store,
        body.channel,
        password_seconds=body.password_seconds,
        balance_fen=body.balance_fen,
        expired=body.expired,
        user_cancels=body.user_cancels,
        now=ctx.now(body.channel),
    )
    return AuthCodeAnswer(auth_code=code, channel=body.channel)


@router.post("/sandbox/pay")
def post_pay(body: PayBody, ctx: Ctx) -> dict[str, Any]:
    try:
        outcome = pay_native(ctx, body.qr, after_s=body.after_s, fail=body.fail)
    except UnknownQrCode as exc:
        raise HTTPException(404, str(exc)) from None
    return asdict(outcome)


@router.get("/sandbox/faults")
def list_faults(ctx: Ctx) -> list[Fault]:
    return ctx.faults.list()


@router.post("/sandbox/faults", status_code=201)
def add_fault(spec: FaultSpec, ctx: Ctx) -> Fault:
    return ctx.faults.add(spec)


@router.delete("/sandbox/faults")
def clear_faults(ctx: Ctx) -> dict[str, int]:
    return {"cleared": ctx.faults.clear()}


@router.delete("/sandbox/faults/{fault_id}")
def delete_fault(fault_id: int, ctx: Ctx) -> dict[str, int]:
    if not ctx.faults.remove(fault_id):
        raise HTTPException(404, f"no fault {fault_id}")
    return {"cleared": 1}


@router.get("/sandbox/notifications")
def list_notifications(ctx: Ctx, gateway: str | None = None, out_trade_no: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "gateway": r.gateway,
            "url": r.url,
            "event": r.event,
            "out_trade_no": r.out_trade_no,
            "state": r.state,
            "attempts": r.attempts,
            "next_at": r.next_at,
            "probe": r.probe,
            "last_status": r.last_status,
            "last_error": r.last_error,
        }
        for r in ctx.notifier.list(gateway=gateway, out_trade_no=out_trade_no)
    ]


@router.post("/sandbox/tick")
async def tick(ctx: Ctx) -> dict[str, int]:
    return {"attempts": await ctx.step()}


def _certs(ctx: SandboxContext) -> list[dict[str, str]]:
    return [
        {"serial_no": c.serial_no, "effective_time": c.effective_at.isoformat(), "expire_time": c.expire_at.isoformat()}
        for c in ctx.keys.wechat.platform_certs
    ]


@router.get("/sandbox/platform-certs")
def list_platform_certs(ctx: Ctx) -> list[dict[str, str]]:
    return _certs(ctx)


@router.post("/sandbox/platform-certs", status_code=201)
def rotate_platform_cert(ctx: Ctx) -> list[dict[str, str]]:
    add_platform_cert(ctx.keys)
    return _certs(ctx)


# ---- the wallet page ---------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox wallet</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto}}fieldset{{margin:1em 0}}
.result{{background:#eef;padding:.6em;font-family:monospace;font-size:1.3em}}</style></head>
<body><h1>Sandbox wallet (training mode, no real money)</h1>
{result}
<form method="post" action="/wallet/authcode"><fieldset><legend>Show a payment code (付款码)</legend>
<label>Wallet <select name="channel"><option value="wechat">WeChat Pay</option>
<option value="alipay">Alipay</option></select></label><br>
<label>Password takes <input name="password_seconds" value="0" size="4"> seconds</label><br>
<label>Balance (fen, empty = enough) <input name="balance_fen" size="8"></label><br>
<label><input type="checkbox" name="expired" value="1"> already expired</label>
<label><input type="checkbox" name="user_cancels" value="1"> customer cancels at the password</label><br>
<button>Show code</button></fieldset></form>
{open_orders}
<form method="post" action="/wallet/pay"><fieldset><legend>Scan a QR code and pay</legend>
<label>QR content <input name="qr" size="60" placeholder="weixin://wxpay/bizpayurl?pr=… or https://qr.alipay.com/…">
</label><br><label>Pay after <input name="after_s" value="0" size="4"> seconds</label><br>
<label>Outcome <select name="fail"><option value="">pay</option>{fail_options}</select></label><br>
<button>Pay</button></fieldset></form>
<form method="post" action="/wallet/scan"><fieldset><legend>Open a one-QR or store-QR page on a phone</legend>
<label>Page URL <input name="url" size="60" placeholder="http://…/q/… or http://…/s/…"></label><br>
<label>With <select name="app"><option value="wechat">WeChat</option><option value="alipay">Alipay</option>
<option value="browser">another browser</option></select></label>
<label>Amount (store QR, yuan) <input name="amount" size="8"></label><br>
<label>In the payment sheet <select name="choice"><option value="pay">pay</option>
<option value="cancel">cancel</option><option value="fail">fail</option></select></label>
<label>User <input name="user" value="demo-user" size="12"></label><br>
<button>Scan</button></fieldset></form>
</body></html>"""


def _open_orders(ctx: SandboxContext) -> str:
    rows = []
    for item in open_qr_codes(ctx):
        rows.append(
            f"<tr><td>{html.escape(item.gateway)}</td><td>{html.escape(item.out_trade_no)}</td>"
            f"<td>{html.escape(format_fen(item.amount_fen))}</td><td>{html.escape(item.description)}</td>"
            f'<td><form method="post" action="/wallet/pay"><input type="hidden" name="qr" '
            f'value="{html.escape(item.qr, quote=True)}"><button>Pay</button></form></td></tr>'
        )
    if not rows:
        return "<p>No QR code is waiting to be paid.</p>"
    return (
        "<fieldset><legend>QR codes waiting to be paid</legend><table>"
        "<tr><th>Wallet</th><th>Order</th><th>Amount</th><th>Item</th><th></th></tr>"
        + "".join(rows)
        + "</table></fieldset>"
    )


def _page(ctx: SandboxContext, result: str = "") -> HTMLResponse:
    options = "".join(f'<option value="{r}">fail: {r}</option>' for r in FAIL_REASONS)
    block = f'<p class="result">{result}</p>' if result else ""
    return HTMLResponse(_PAGE.format(result=block, fail_options=options, open_orders=_open_orders(ctx)))


@router.get("/wallet", response_class=HTMLResponse)
def wallet_page(ctx: Ctx) -> HTMLResponse:
    return _page(ctx)


@router.post("/wallet/authcode", response_class=HTMLResponse)
def wallet_authcode(
    ctx: Ctx,
    channel: Annotated[Literal["wechat", "alipay"], Form()],
    password_seconds: Annotated[float, Form(ge=0)] = 0,
    balance_fen: Annotated[str, Form()] = "",
    expired: Annotated[bool, Form()] = False,
    user_cancels: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    balance = int(balance_fen) if balance_fen.strip().isdigit() else None
    code = issue_auth_code(
        ctx.store,
        channel,
        password_seconds=password_seconds,
        balance_fen=balance,
        expired=expired,
        user_cancels=user_cancels,
        now=ctx.now(channel),
    )
    label = "WeChat Pay" if channel == "wechat" else "Alipay"
    extra = f" (balance {format_fen(balance)})" if balance is not None else ""
    return _page(ctx, f"{label} payment code: {html.escape(code)}{extra}")


@router.post("/wallet/scan", response_class=HTMLResponse)
async def wallet_scan(
    ctx: Ctx,
    url: Annotated[str, Form()],
    app: Annotated[Literal["wechat", "alipay", "browser"], Form()] = "wechat",
    amount: Annotated[str, Form()] = "",
    choice: Annotated[Literal["pay", "cancel", "fail"], Form()] = "pay",
    user: Annotated[str, Form()] = "demo-user",
) -> HTMLResponse:
    """The phone, run by the sandbox itself (async: its requests come back to this very server)."""
    try:
        amount_fen = parse_amount(amount) if amount.strip() else None
    except PosError as exc:
        return _page(ctx, html.escape(exc.message))
    outcome = await scan(url, app=app, amount_fen=amount_fen, choice=choice, user=user)
    lines = [step_line(n, step) for n, step in enumerate(outcome.steps, 1)] + conclusion(outcome)
    return _page(ctx, "<br>".join(html.escape(line) for line in lines))


@router.post("/wallet/pay", response_class=HTMLResponse)
def wallet_pay(
    ctx: Ctx,
    qr: Annotated[str, Form()],
    after_s: Annotated[float, Form(ge=0)] = 0,
    fail: Annotated[str, Form()] = "",
) -> HTMLResponse:
    try:
        outcome = pay_native(ctx, qr, after_s=after_s, fail=fail or None)
    except UnknownQrCode as exc:
        return _page(ctx, html.escape(str(exc)))
    return _page(ctx, html.escape(f"{outcome.out_trade_no}: {outcome.state} — {outcome.message}"))
