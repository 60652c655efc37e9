"""HTTP of the customer's pages (contract of issue 19): wallet detection, the OAuth round trip, the
store amount form, the pay page with its bridge data, and "check now".

Unsigned routes (a phone has no terminal key): every value from the phone is validated here or in
``wallet_pages`` (token shape, state HMAC, sealed ticket, result MAC, amount). Every answer carries
no-store, a strict CSP (scripts only from this engine, no framework, no CDN) and frame denial; no
secret reaches a page beyond the bridge parameters.
"""

from __future__ import annotations

import gzip
import html
import json
import logging
import re
from functools import cache
from importlib import resources
from string import Template
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from pos_app.domain.errors import AmountError
from pos_app.domain.money import format_fen, parse_amount
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.engine.page_keys import Wallet
from pos_app.engine.pages import texts
from pos_app.engine.rate_limits import PageRateLimits, Verdict
from pos_app.engine.wallet_pages import (
    BridgeData,
    PageError,
    PageProblem,
    PageTarget,
    SignInAgain,
    WalletPages,
)

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
PAY_JS_PATH = "/p/pay.js"
GZIP_ABOVE_BYTES = 1024
_WECHAT_UA = re.compile(r"micromessenger", re.IGNORECASE)
_ALIPAY_UA = re.compile(r"alipayclient", re.IGNORECASE)
_PROBLEM_TEXT = {
    PageProblem.UNKNOWN_TOKEN: texts.UNKNOWN_TOKEN,
    PageProblem.REPLACED: texts.REPLACED,
    PageProblem.BAD_STATE: texts.BAD_STATE,
    PageProblem.OTHER_WALLET: texts.OTHER_WALLET,
    PageProblem.OTHER_PAYER: texts.OTHER_PAYER,
    PageProblem.OVER: texts.OVER,
    PageProblem.SIGN_IN: texts.SIGN_IN,
    PageProblem.UNAVAILABLE: texts.UNAVAILABLE,
    PageProblem.NOT_SET_UP: texts.NOT_SET_UP,
}
_PROBLEM_STATUS = {PageProblem.UNKNOWN_TOKEN: 404, PageProblem.REPLACED: 410, PageProblem.BAD_STATE: 400}

Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
WalletName = Annotated[Wallet, Path()]

router = APIRouter(include_in_schema=False)


@cache
def _asset(name: str) -> str:
    return resources.files("pos_app.engine.pages").joinpath("assets", name).read_text(encoding="utf-8")


def _pages(request: Request) -> WalletPages:
    pages: WalletPages = request.app.state.engine.use_cases.pages
    return pages


def _tr(request: Request) -> tuple[str, texts.Translate]:
    language = texts.page_language(request.headers.get("accept-language"))
    return language, texts.translator(language)


def _page(request: Request, title: str, body: str, *, status: int = 200, script: bool = False) -> Response:
    language, _t = _tr(request)
    script_tag = f'<script src="{PAY_JS_PATH}" defer></script>' if script else ""
    page = Template(_asset("page.html")).substitute(
        lang="zh-CN" if language == "zh_CN" else "en", title=html.escape(title), body=body, script=script_tag
    )
    return _compressed(request, page, status, "text/html; charset=utf-8", SECURITY_HEADERS)


def _compressed(request: Request, text: str, status: int, media_type: str, headers: dict[str, str]) -> Response:
    """Gzipped when the phone takes it (pages load on 4G); small texts are not worth it."""
    body = text.encode("utf-8")
    out = {**headers, "Vary": "Accept-Encoding"}
    if len(body) > GZIP_ABOVE_BYTES and "gzip" in request.headers.get("accept-encoding", "").lower():
        body = gzip.compress(body, compresslevel=6, mtime=0)
        out["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, media_type=media_type, headers=out)


def _message_page(request: Request, title_msg: str, text_msg: str, *, status: int = 200, **params: str) -> Response:
    _lang, t = _tr(request)
    body = f"<p>{html.escape(t(text_msg).format(**params))}</p>"
    return _page(request, t(title_msg), body, status=status)


def _problem_page(request: Request, error: PageError) -> Response:
    if error.problem is PageProblem.OVER and error.payment is not None and error.payment.state is PaymentState.PAID:
        return _message_page(request, texts.PAID, texts.PAID)
    status = _PROBLEM_STATUS.get(error.problem, 409)
    return _message_page(request, texts.ERROR_TITLE, _PROBLEM_TEXT[error.problem], status=status)


def _wallet_of(request: Request) -> Wallet | None:
    agent = request.headers.get("user-agent", "")
    if _WECHAT_UA.search(agent):
        return Wallet.WECHAT
    if _ALIPAY_UA.search(agent):
        return Wallet.ALIPAY
    return None


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _over_limit(request: Request, token: str) -> Verdict | None:
    """The refusal if this phone used up ``[engine] page_rate_limit`` on this code (None: go on)."""
    limits: PageRateLimits | None = getattr(request.app.state, "page_limits", None)
    if limits is None or not limits.enabled:
        return None
    verdict = limits.hit_page(_client_ip(request), token)
    if verdict.allowed:
        return None
    # The path's code is the sale's capability: logged by its kind only.
    kind = "one-QR" if request.url.path.startswith("/q/") else "store-QR"
    log.warning("%s page: too many requests from %s", kind, _client_ip(request))
    return verdict


def _too_many_page(request: Request, verdict: Verdict) -> Response:
    response = _message_page(request, texts.ERROR_TITLE, texts.TOO_MANY, status=429, seconds=str(verdict.retry_after_s))
    response.headers["Retry-After"] = str(verdict.retry_after_s)
    return response


def _pay_page(request: Request, bridge: BridgeData) -> Response:
    _lang, t = _tr(request)
    data = json.dumps(bridge.as_json(), ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # safe inside <script>
    amount = format_fen(bridge.payment.amount_fen)
    body = (
        f'<p class="amount">{html.escape(amount)}</p>'
        f'<p id="pos-status" data-checking="{html.escape(t(texts.CHECKING))}" '
        f'data-error="{html.escape(t(texts.NET_ERROR))}">{html.escape(t(texts.PAY_WAIT))}</p>'
        f'<script type="application/json" id="pos-bridge">{data}</script>'
    )
    return _page(request, t(texts.PAY_TITLE).format(amount=amount), body, script=True)


def _store_form(request: Request, target: PageTarget, wallet: Wallet, ticket: str, *, error: str = "") -> Response:
    _lang, t = _tr(request)
    action = f"/s/{target.token}/{wallet.value}"
    problem = f'<p class="muted" role="alert">{html.escape(error)}</p>' if error else ""
    body = (
        f'<form id="pos-amount" method="post" action="{html.escape(action)}">'
        f'<label for="amount">{html.escape(t(texts.STORE_PROMPT))}</label>'
        '<input id="amount" name="amount" inputmode="decimal" autocomplete="off" maxlength="12" required>'
        f'<input type="hidden" name="ticket" value="{html.escape(ticket)}">'
        f'{problem}<button type="submit">{html.escape(t(texts.STORE_BUTTON))}</button></form>'
    )
    return _page(request, t(texts.STORE_TITLE), body, status=422 if error else 200)


# --- routes ------------------------------------------------------------------------------------


@router.get(PAY_JS_PATH)
async def pay_js(request: Request) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return _compressed(request, _asset("pay.js"), 200, "text/javascript; charset=utf-8", headers)


@router.get("/q/{token}")
@router.get("/s/{token}")
async def open_page(request: Request, token: Token) -> Response:
    """The QR's URL: a wallet is sent to sign in silently; any other scanner gets "open it with a wallet"."""
    pages = _pages(request)
    try:
        target = await _target(request, pages, token)
        if target.kind is PaymentMode.ONE_QR:
            sale = await pages.sale_of(target)
            if sale.state is PaymentState.PAID:
                raise PageError(PageProblem.OVER, sale)
        wallet = _wallet_of(request)
        if wallet is None:
            return _message_page(request, texts.OPEN_TITLE, texts.OPEN_BODY)
        url = pages.authorize_url(target, wallet)
    except PageError as error:
        return _problem_page(request, error)
    return RedirectResponse(url, status_code=302, headers=SECURITY_HEADERS)


@router.get("/q/{token}/{wallet}")
@router.get("/s/{token}/{wallet}")
async def signed_in(
    request: Request,
    token: Token,
    wallet: WalletName,
    state: Annotated[str, Query(max_length=128)] = "",
    code: Annotated[str | None, Query(max_length=128)] = None,
    auth_code: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    """Back from the wallet's sign-in: the pay page (one-QR) or the amount form (store code)."""
    if (refused := _over_limit(request, token)) is not None:
        return _too_many_page(request, refused)
    pages = _pages(request)
    oauth_code = code if wallet is Wallet.WECHAT else auth_code
    try:
        target = await _target(request, pages, token)
        if not oauth_code:
            raise PageError(PageProblem.SIGN_IN)
        try:
            payer = await pages.sign_in(target, wallet, oauth_code, state)
        except SignInAgain as again:
            log.info("%s refused the sign-in code: signing in once more", wallet.value)
            return RedirectResponse(again.url, status_code=302, headers=SECURITY_HEADERS)
        if target.kind is PaymentMode.STORE_QR:
            return _store_form(request, target, wallet, pages.ticket(target, wallet, payer))
        bridge = await pages.open_one_qr(target, wallet, payer, _client_ip(request))
    except PageError as error:
        return _problem_page(request, error)
    return _pay_page(request, bridge)


# Before the /{wallet} routes: "result" is not a wallet.
@router.post("/q/{token}/result")
@router.post("/s/{token}/result")
async def result(
    request: Request,
    token: Token,
    o: Annotated[str, Query(pattern=r"^[0-9A-Za-z]{6,32}$")],
    k: Annotated[str, Query(pattern=r"^[0-9a-f]{32}$")],
) -> Response:
    """The page's "the wallet finished": the engine checks with the gateway now and says what it found."""
    _lang, t = _tr(request)
    if (refused := _over_limit(request, token)) is not None:
        message = t(texts.TOO_MANY).format(seconds=refused.retry_after_s)
        headers = {**SECURITY_HEADERS, "Retry-After": str(refused.retry_after_s)}
        return JSONResponse({"state": None, "message": message}, status_code=429, headers=headers)
    pages = _pages(request)
    said = await _said(request)
    try:
        target = await _target(request, pages, token)
        checked = await pages.check_now(target, o, k)
    except PageError as error:
        return JSONResponse(
            {"state": None, "message": t(_PROBLEM_TEXT[error.problem])},
            status_code=_PROBLEM_STATUS.get(error.problem, 409),
            headers=SECURITY_HEADERS,
        )
    if checked.state is PaymentState.PAID:
        message = texts.PAID
    elif checked.state in (PaymentState.CLOSED, PaymentState.REVERSED):
        message = texts.CANCELLED
    elif checked.state is PaymentState.FAILED:
        message = texts.FAILED
    elif said == "ok":
        message = texts.CONFIRMING  # the wallet says paid, the gateway not yet: the notify will tell
    else:
        message = texts.CANCELLED  # not paid: the same payer may scan again while the order is open
    log.info("page result %s: phone said %s, ledger %s", o, said, checked.state.value)
    return JSONResponse({"state": checked.state.value, "message": t(message)}, headers=SECURITY_HEADERS)


@router.post("/s/{token}/{wallet}")
async def store_amount(
    request: Request,
    token: Token,
    wallet: WalletName,
    amount: Annotated[str, Form(max_length=32)] = "",
    ticket: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """The customer's amount on a store code: a new payment of the till, then the pay page."""
    if (refused := _over_limit(request, token)) is not None:
        return _too_many_page(request, refused)
    pages = _pages(request)
    _lang, t = _tr(request)
    try:
        target = await _target(request, pages, token)
        if target.kind is not PaymentMode.STORE_QR:
            raise PageError(PageProblem.UNKNOWN_TOKEN)
        opened = pages.keys.open_ticket(target.token, ticket)
        if opened is None or opened[0] is not wallet:
            raise PageError(PageProblem.BAD_STATE)
        limit = pages.max_amount_fen
        try:
            amount_fen = parse_amount(amount, max_fen=limit)
        except AmountError:
            error = t(texts.BAD_AMOUNT).format(limit=format_fen(limit))
            return _store_form(request, target, wallet, ticket, error=error)
        bridge = await pages.pay_store(target, ticket, amount_fen, _client_ip(request))
    except PageError as error:
        return _problem_page(request, error)
    return _pay_page(request, bridge)


async def _said(request: Request) -> str:
    try:
        data: Any = json.loads(await request.body())
    except ValueError:
        return "unknown"
    value = data.get("result") if isinstance(data, dict) else None
    return value if value in ("ok", "cancel", "fail") else "unknown"


async def _target(request: Request, pages: WalletPages, token: str) -> PageTarget:
    target = await pages.target(token)
    expected = PaymentMode.ONE_QR if request.url.path.startswith("/q/") else PaymentMode.STORE_QR
    if target.kind is not expected:
        raise PageError(PageProblem.UNKNOWN_TOKEN)
    return target
