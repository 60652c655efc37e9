"""The simulated phone: a wallet's in-app browser following a one-QR or store-QR page (jsapi specs §6).

Step by step, as the real wallet would:

1. GET the QR URL with the wallet's User-Agent (``MicroMessenger`` / ``AlipayClient``).
2. Follow the 302 to the wallet's authorize page (the sandbox), dropping any ``#fragment`` as browsers
   do. Only there does the phone say who is logged in (:data:`~pos_app.sandbox.simulated_user.USER_HEADER`):
   the engine never learns the simulated user.
3. Follow the 302 back to the engine with ``code``/``auth_code`` and ``state``.
4. On a store page, type the amount into ``#pos-amount`` and submit every field of the form.
5. Read ``#pos-bridge`` from the pay page.
6. Play the bridge: the sandbox's bridge-check endpoint applies the scripted choice (pay, cancel,
   fail) and answers what the JS callback receives.
7. Do what the page's own script does with that callback: POST ``{"result": "ok"|"cancel"|"fail"}``
   to ``result_url`` and read the engine's answer (``{"state", "message"}``). No callback, no POST.

The phone never imports the engine: it only speaks HTTP, like a phone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx

from pos_app.domain.money import fen_to_yuan
from pos_app.sandbox.phone.page import Page, read_page
from pos_app.sandbox.simulated_user import DEFAULT_USER, OAUTH_ERROR_HEADER, USER_HEADER

App = Literal["wechat", "alipay", "browser"]
Choice = Literal["pay", "cancel", "fail"]

USER_AGENTS: dict[str, str] = {
    "wechat": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.188 Mobile Safari/537.36 XWEB/1260117 "
    "MMWEBSDK/20240501 MicroMessenger/8.0.50.2701(0x28003237) WeChat/arm64 Weixin NetType/WIFI "
    "Language/zh_CN ABI/arm64",
    "alipay": "Mozilla/5.0 (Linux; U; Android 14; zh-CN; Pixel 8 Build/UQ1A.240205.004) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.188 Mobile Safari/537.36 "
    "AlipayDefined(nt:WIFI,ws:412|915|2.6) AliApp(AP/10.5.88) AlipayClient/10.5.88 Language/zh-Hans",
    "browser": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}
WALLET_NAMES = {"wechat": "WeChat", "alipay": "Alipay", "browser": "the phone's browser"}
AUTHORIZE_PATHS = {"wechat": "/connect/oauth2/authorize", "alipay": "/oauth2/publicAppAuthorize.htm"}
QUIRKS = {
    "wechat": ("none", "cancel_although_paid", "no_callback"),
    "alipay": ("none", "8000", "6004", "no_callback"),
    "browser": ("none",),
}
MAX_REDIRECTS = 10
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the phone did, as its user would tell it."""

    what: str
    url: str = ""
    status: int | None = None


@dataclass(slots=True)
class ScanOutcome:
    app: str
    user: str
    steps: list[Step] = field(default_factory=list)
    page_url: str | None = None  # the pay page (the one calling the bridge)
    bridge: dict[str, Any] | None = None  # #pos-bridge as the page carried it
    wallet_answer: dict[str, Any] | None = None  # the sandbox bridge check's whole answer
    callback: str | None = None  # WeChat err_msg / Alipay resultCode the page's callback got (None: none)
    page_result: str | None = None  # what the page's script POSTed to result_url
    result: dict[str, Any] | None = None  # the engine's answer to that POST
    final_status: int | None = None
    final_text: str = ""  # visible text of the last page (error and "open in WeChat" pages)
    error: str | None = None  # why the phone could not go on (None: it went as far as the page allows)
    on_step: Callable[[Step], None] | None = field(default=None, repr=False, compare=False)

    @property
    def trade_state(self) -> str | None:
        """The sandbox's own state word for the order after the bridge (not something a page sees)."""
        if self.wallet_answer is None:
            return None
        state = self.wallet_answer.get("trade_state") or self.wallet_answer.get("trade_status")
        return None if state is None else str(state)

    def add(self, what: str, url: str = "", status: int | None = None) -> None:
        step = Step(what, url, status)
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)


class _Phone:
    def __init__(
        self, http: httpx.AsyncClient, outcome: ScanOutcome, *, app: str, user: str, oauth_error: int | None
    ) -> None:
        self.http = http
        self.outcome = outcome
        self.app = app
        self.user = user
        self.oauth_error = oauth_error
        self.sandbox_base: str | None = None

    def _is_authorize(self, url: str) -> bool:
        path = AUTHORIZE_PATHS.get(self.app)
        return path is not None and urlsplit(url).path.endswith(path)

    async def open(self, method: str, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        """One navigation: the request and every redirect after it (fragments dropped)."""
        for _ in range(MAX_REDIRECTS + 1):
            url = url.partition("#")[0]
            headers: dict[str, str] = {}
            if self._is_authorize(url):
                headers[USER_HEADER] = self.user
                if self.oauth_error is not None:
                    # Only the first code fails: a shop that restarts the authorization once (spec §2)
                    # then gets a good one.
                    headers[OAUTH_ERROR_HEADER] = str(self.oauth_error)
                    self.oauth_error = None
                parts = urlsplit(url)
                self.sandbox_base = f"{parts.scheme}://{parts.netloc}"
            response = await self.http.request(method, url, data=data, headers=headers)
            if response.status_code not in REDIRECTS or "location" not in response.headers:
                return response
            target = urljoin(url, response.headers["location"])
            self.outcome.add(self._redirect_words(url, target), target.partition("#")[0], response.status_code)
            if response.status_code in (301, 302, 303):
                method, data = "GET", None
            url = target
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=response.request)

    def _redirect_words(self, source: str, target: str) -> str:
        wallet = WALLET_NAMES[self.app]
        if self._is_authorize(target):
            return f"{wallet} asks who is paying (silent web authorization, user {self.user!r})"
        if self._is_authorize(source):
            return f"{wallet} sends the phone back to the shop page with an authorization code"
        return "Redirected"


async def scan(
    url: str,
    *,
    app: App,
    amount_fen: int | None = None,
    choice: Choice = "pay",
    user: str = DEFAULT_USER,
    quirk: str = "none",
    notify: Literal["normal", "delay", "drop"] = "normal",
    notify_delay_s: float = 30.0,
    oauth_error: int | None = None,
    sandbox_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout_s: float = 15.0,
    on_step: Callable[[Step], None] | None = None,
) -> ScanOutcome:
    """Scan ``url`` with ``app`` and follow the page to its end; every step is in the outcome.

    ``quirk``: WeChat ``cancel_although_paid`` / ``no_callback``; Alipay ``8000`` / ``6004`` /
    ``no_callback`` (the order is paid all the same). ``notify``: the gateway's notification is
    ``delay``-ed by ``notify_delay_s`` or ``drop``-ped. ``oauth_error``: WeChat's exchange of the first
    code is made to fail with 40029, 40163 or -1. ``sandbox_url``: where the bridge check lives (default: the
    host of the authorize page the phone was sent to). ``on_step`` hears each step as it happens.
    """
    if app not in USER_AGENTS:
        raise ValueError(f"unknown app {app!r}: wechat, alipay or browser")
    if amount_fen is not None and amount_fen <= 0:
        raise ValueError("amount_fen must be positive")
    if quirk not in QUIRKS[app]:
        raise ValueError(f"quirk {quirk!r} does not exist in {WALLET_NAMES[app]}: {', '.join(QUIRKS[app])}")
    outcome = ScanOutcome(app=app, user=user, on_step=on_step)
    headers = {
        "User-Agent": USER_AGENTS[app],
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
    }
    async with httpx.AsyncClient(headers=headers, timeout=timeout_s, transport=transport) as http:
        phone = _Phone(http, outcome, app=app, user=user, oauth_error=oauth_error)
        try:
            await _follow(phone, url, amount_fen=amount_fen)
            if outcome.bridge is not None and outcome.error is None:
                base = (sandbox_url or phone.sandbox_base or "").rstrip("/")
                await _play_bridge(phone, base, choice=choice, quirk=quirk, notify=notify, delay_s=notify_delay_s)
        except httpx.HTTPError as exc:
            outcome.error = f"network error: {exc.__class__.__name__}: {exc}"
    return outcome


async def _follow(phone: _Phone, url: str, *, amount_fen: int | None) -> None:
    outcome = phone.outcome
    outcome.add(f"Scanned the code with {WALLET_NAMES[phone.app]}", url)
    response = await phone.open("GET", url)
    page, page_url = _land(outcome, response)
    form = page.amount_form
    if form is not None and page.bridge_json is None:
        if amount_fen is None:
            outcome.error = "this is a store QR page: the customer must type an amount (amount_fen / --amount)"
            return
        fields = dict(form.fields)
        fields["amount"] = fen_to_yuan(amount_fen)  # what the customer types: "23.00"
        action = urljoin(page_url, form.action or page_url)
        outcome.add(f"Typed ¥{fields['amount']} and tapped Pay", action)
        response = await phone.open("POST" if form.method == "post" else "GET", action, data=fields)
        page, page_url = _land(outcome, response)
    if page.wallet_error is not None:
        code = page.wallet_error.get("errcode", "?")
        outcome.error = f"{WALLET_NAMES[phone.app]} shows an error page ({code}): {page.text}"
        return
    if page.bridge_json is None:
        if phone.app != "browser":
            outcome.error = f"the page starts no payment (HTTP {response.status_code}): {page.text[:200]}"
        return
    try:
        bridge = page.bridge()
    except ValueError as exc:
        outcome.error = f"unreadable #pos-bridge: {exc}"
        return
    outcome.bridge, outcome.page_url = bridge, page_url
    if bridge.get("app") != phone.app:
        outcome.error = f"the page prepared a {bridge.get('app')!r} payment inside {WALLET_NAMES[phone.app]}"
        return
    outcome.add("The pay page is open and calls the wallet's payment sheet", page_url, response.status_code)


def _land(outcome: ScanOutcome, response: httpx.Response) -> tuple[Page, str]:
    page = read_page(response.text)
    outcome.final_status = response.status_code
    outcome.final_text = page.text
    outcome.add(f"Page shown: {page.title or page.text[:60]}", str(response.url), response.status_code)
    return page, str(response.url)


def _page_result(app: str, callback: str | None) -> str | None:
    """What the page's script reports for a callback (the contract's mapping); None: no callback."""
    if callback is None:
        return None
    if app == "wechat":
        return {"get_brand_wcpay_request:ok": "ok", "get_brand_wcpay_request:cancel": "cancel"}.get(callback, "fail")
    return {"9000": "ok", "6001": "cancel"}.get(callback, "fail")


async def _play_bridge(phone: _Phone, base: str, *, choice: str, quirk: str, notify: str, delay_s: float) -> None:
    outcome = phone.outcome
    bridge = outcome.bridge
    assert bridge is not None and outcome.page_url is not None  # _follow set both
    if not base:
        outcome.error = "no wallet sandbox known for the bridge check (pass sandbox_url)"
        return
    body: dict[str, Any] = {
        "user": phone.user,
        "page_url": outcome.page_url,
        "choice": choice,
        "quirk": quirk,
        "notify": notify,
        "notify_delay_s": delay_s,
    }
    if phone.app == "wechat":
        body["pay"] = bridge.get("pay") or {}
    else:
        body["tradeNO"] = str(bridge.get("tradeNO") or "")
    answer_response = await phone.http.post(f"{base}/sandbox/bridge/{phone.app}", json=body)
    if answer_response.status_code != 200:
        outcome.error = f"the wallet sandbox refused the bridge call (HTTP {answer_response.status_code})"
        return
    answer: dict[str, Any] = answer_response.json()
    outcome.wallet_answer = answer
    if phone.app == "wechat":
        outcome.callback = answer.get("err_msg")
        detail = answer.get("err_desc") or ""
    else:
        callback = answer.get("callback")
        outcome.callback = None if callback is None else str(callback.get("resultCode"))
        detail = answer.get("memo") or ""
    said = "no callback at all" if outcome.callback is None else f"callback {outcome.callback}"
    outcome.add(f"{WALLET_NAMES[phone.app]} payment sheet: chose {choice!r} → {said} {detail}".rstrip())
    outcome.page_result = _page_result(phone.app, outcome.callback)
    result_url = bridge.get("result_url")
    if outcome.page_result is None or not isinstance(result_url, str) or not result_url:
        return
    target = urljoin(outcome.page_url, result_url)
    response = await phone.http.post(target, json={"result": outcome.page_result})
    try:
        result = response.json()
    except json.JSONDecodeError:
        outcome.error = f"the shop answered the result with HTTP {response.status_code}, not JSON"
        return
    outcome.result = result if isinstance(result, dict) else {"answer": result}
    outcome.add(
        f"The page told the shop {outcome.page_result!r}; the shop says: {outcome.result.get('message', '')}"
        f" ({outcome.result.get('state', '?')})",
        target,
        response.status_code,
    )
