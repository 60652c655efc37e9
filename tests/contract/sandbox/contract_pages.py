"""A tiny stand-in for the engine's one-QR and store-QR pages, written from issue 19's contract alone.

It lets the simulated phone be tested before (and independently of) the engine's real pages, over
real sockets. It does what the contract says the engine does — and nothing more:

- ``GET /q/{token}`` (a sale) and ``GET /s/{token}`` (the store QR): ``MicroMessenger`` → 302 to the
  WeChat authorize URL in its strict order; ``AlipayClient`` → 302 to Alipay's; anything else → the
  "open it with WeChat or Alipay" page;
- back at ``/{q|s}/{token}/wechat?code&state`` or ``/alipay?auth_code&state``: the HMAC ``state`` is
  checked, the code exchanged server to server, then (sale) the prepay / trade.create and the pay page,
  or (store) the ``#pos-amount`` form with a signed ticket; its POST answers the pay page;
- the pay page carries ``#pos-bridge`` exactly as the contract spells it; ``result_url`` answers
  ``{"state", "message"}`` after querying the gateway (never trusting the page's word);
- ``POST /notify/{gateway}`` records the gateways' notifications and acknowledges them.

Requests to the sandbox are signed by hand (the conftest's WeChat signer, the RSA2 helpers of
test_alipay_gateway.py); nothing of the engine is used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.money import fen_to_yuan, parse_amount
from tests.contract.sandbox.conftest import WechatClient, merchant_of
from tests.contract.sandbox.test_alipay_gateway import rsa2_sign, string_to_sign

APP_SECRET = "pages0test0appsecret0000000000"

#: The pay page's own script, as the contract describes it: wait for the bridge, start the payment,
#: report the callback to result_url, show the shop's answer.
PAGE_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("pos-bridge").textContent);
  var status = document.getElementById("status");
  function report(result) {
    fetch(data.result_url, {method: "POST", headers: {"Content-Type": "application/json"},
                            body: JSON.stringify({result: result})})
      .then(function (r) { return r.json(); })
      .then(function (a) { status.textContent = a.message; status.setAttribute("data-state", a.state); });
  }
  function pay() {
    if (data.app === "wechat") {
      WeixinJSBridge.invoke("getBrandWCPayRequest", data.pay, function (res) {
        var m = res.err_msg;
        report(m === "get_brand_wcpay_request:ok" ? "ok" : m === "get_brand_wcpay_request:cancel" ? "cancel" : "fail");
      });
    } else {
      AlipayJSBridge.call("tradePay", {tradeNO: data.tradeNO}, function (r) {
        report(r.resultCode === "9000" ? "ok" : r.resultCode === "6001" ? "cancel" : "fail");
      });
    }
  }
  if (data.app === "wechat") {
    if (typeof WeixinJSBridge === "undefined") { document.addEventListener("WeixinJSBridgeReady", pay, false); }
    else { pay(); }
  } else if (window.AlipayJSBridge) { pay(); }
  else { document.addEventListener("AlipayJSBridgeReady", pay, false); }
})();
"""


RESTART = "restart-authorization"


class _RealClock:
    def now(self) -> float:
        return time.time()


@dataclass
class Order:
    otn: str
    amount_fen: int
    wallet: str
    token: str


@dataclass
class ContractPages:
    settings: Settings
    sandbox_url: str
    sales: dict[str, int] = field(default_factory=dict)  # one-QR token -> amount in fen
    store_tokens: set[str] = field(default_factory=set)
    orders: list[Order] = field(default_factory=list)
    notifications: list[tuple[str, bytes]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)  # what phones POSTed to result_url
    restarted: set[tuple[str, str]] = field(default_factory=set)
    evil_redirect: bool = False  # send WeChat a redirect_uri on another host (the 10003 page)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    @property
    def public(self) -> str:
        return self.settings.engine.public_url.rstrip("/")

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:40]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/{kind}/{token}")
        async def entry(kind: str, token: str, request: Request) -> Response:
            ua = request.headers.get("user-agent", "")
            if not self._known(kind, token):
                return HTMLResponse("<p>unknown code</p>", status_code=404)
            if "micromessenger" in ua.lower():
                back = f"{self.public}/{kind}/{token}/wechat"
                if self.evil_redirect:
                    back = "https://evil.example.com/q/x/wechat"
                url = (
                    f"{self.settings.wechatpay.oauth_url}/connect/oauth2/authorize?appid={self.settings.wechatpay.appid}"
                    f"&redirect_uri={quote(back, safe='')}&response_type=code&scope=snsapi_base"
                    f"&state={self._mac(kind, token, 'wechat')}#wechat_redirect"
                )
                return RedirectResponse(url, status_code=302)
            if "alipayclient" in ua.lower():
                query = urlencode(
                    {
                        "app_id": self.settings.alipay.app_id,
                        "scope": "auth_base",
                        "redirect_uri": f"{self.public}/{kind}/{token}/alipay",
                        "state": self._mac(kind, token, "alipay"),
                    }
                )
                return RedirectResponse(f"{self.settings.alipay.oauth_url}/oauth2/publicAppAuthorize.htm?{query}", 302)
            return HTMLResponse(
                "<!doctype html><title>扫码支付</title><p>请用微信或支付宝扫码</p><p>Open it with WeChat or Alipay</p>"
            )

        @app.get("/{kind}/{token}/{wallet}")
        async def back(kind: str, token: str, wallet: str, request: Request) -> Response:
            params = request.query_params
            if not hmac.compare_digest(params.get("state", ""), self._mac(kind, token, wallet)):
                return HTMLResponse("<p>bad state</p>", status_code=400)
            buyer = await (self._wechat_openid(params["code"]) if wallet == "wechat" else self._alipay_buyer(params))
            if buyer == RESTART and (kind, token) not in self.restarted:
                self.restarted.add((kind, token))  # spec §2: on 40029/40163 restart the authorization once
                return RedirectResponse(f"{self.public}/{kind}/{token}", status_code=302)
            if buyer is None or buyer == RESTART:
                return HTMLResponse("<p>authorization failed</p>", status_code=502)
            if kind == "s":
                ticket = buyer + "." + self._mac("ticket", token, wallet, buyer)
                action = f"/s/{token}/{wallet}/amount"
                return HTMLResponse(
                    f"<!doctype html><title>付款给门店</title><form id='pos-amount' method='post' action='{action}'>"
                    f"<input name='amount' inputmode='decimal'><input type='hidden' name='ticket' value='{ticket}'>"
                    "<button type='submit'>付款</button></form>"
                )
            return await self._pay_page(wallet, token, self.sales[token], buyer)

        @app.post("/s/{token}/{wallet}/amount")
        async def amount(token: str, wallet: str, amount: str = Form(), ticket: str = Form()) -> Response:
            buyer, _, mac = ticket.rpartition(".")
            if not hmac.compare_digest(mac, self._mac("ticket", token, wallet, buyer)):
                return HTMLResponse("<p>bad ticket</p>", status_code=400)
            return await self._pay_page(wallet, token, parse_amount(amount), buyer)

        @app.post("/r/{wallet}/{otn}")
        async def result(wallet: str, otn: str, request: Request) -> JSONResponse:
            self.results.append({"otn": otn, **(await request.json())})
            paid = await self._query_paid(wallet, otn)  # never the page's word: ask the gateway
            state = "PAID" if paid else "AWAITING_SCAN"
            return JSONResponse({"state": state, "message": "支付成功" if paid else "未支付，请重新扫码"})

        @app.post("/notify/{gateway}")
        async def notify(gateway: str, request: Request) -> Response:
            self.notifications.append((gateway, await request.body()))
            if gateway == "alipay":
                return Response("success")
            return JSONResponse({"code": "SUCCESS", "message": "OK"})

        return app

    def _known(self, kind: str, token: str) -> bool:
        return (kind == "q" and token in self.sales) or (kind == "s" and token in self.store_tokens)

    # ---- WeChat -------------------------------------------------------------------------------------

    async def _wechat_openid(self, code: str) -> str | None:
        wc = self.settings.wechatpay
        params = {"appid": wc.appid, "secret": APP_SECRET, "code": code, "grant_type": "authorization_code"}
        async with httpx.AsyncClient() as http:
            answer = (await http.get(f"{wc.sns_url}/sns/oauth2/access_token", params=params)).json()
        if answer.get("errcode") in (40029, 40163):
            return RESTART
        return answer.get("openid")

    async def _pay_page(self, wallet: str, token: str, amount_fen: int, buyer: str) -> HTMLResponse:
        otn = f"PG{token}{len(self.orders) + 1:04d}{secrets.token_hex(3)}"
        self.orders.append(Order(otn, amount_fen, wallet, token))
        result_url = f"/r/{wallet}/{otn}"
        if wallet == "wechat":
            bridge: dict[str, Any] = {"app": "wechat", "pay": await self._jsapi(otn, amount_fen, buyer)}
        else:
            bridge = {"app": "alipay", "tradeNO": await self._trade_create(otn, amount_fen, buyer)}
        bridge["result_url"] = result_url
        data = json.dumps(bridge).replace("</", "<\\/")
        return HTMLResponse(
            f"<!doctype html><title>支付 ¥{html.escape(fen_to_yuan(amount_fen))}</title>"
            f'<script type="application/json" id="pos-bridge">{data}</script>'
            f"<p id='status'>正在拉起支付…</p><script>{PAGE_SCRIPT}</script>"
        )

    async def _jsapi(self, otn: str, amount_fen: int, openid: str) -> dict[str, str]:
        merchant = merchant_of(self.settings)
        async with httpx.AsyncClient() as http:
            client = WechatClient(http, merchant, _RealClock(), base_url=self.settings.wechatpay.base_url)
            body = client.order(otn, amount_fen, notify_url=self.public + "/notify/wechat", payer={"openid": openid})
            response = await client.request("POST", "/v3/pay/transactions/jsapi", body)
        prepay_id = response.json()["prepay_id"]
        pay = {
            "appId": merchant.appid,
            "timeStamp": str(int(time.time())),
            "nonceStr": secrets.token_hex(16),
            "package": f"prepay_id={prepay_id}",
            "signType": "RSA",
        }
        message = f"{pay['appId']}\n{pay['timeStamp']}\n{pay['nonceStr']}\n{pay['package']}\n".encode()
        signature = merchant.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {**pay, "paySign": base64.b64encode(signature).decode()}

    async def _query_paid(self, wallet: str, otn: str) -> bool:
        if wallet == "wechat":
            async with httpx.AsyncClient() as http:
                client = WechatClient(
                    http, merchant_of(self.settings), _RealClock(), base_url=self.settings.wechatpay.base_url
                )
                return bool((await client.query(otn)).json().get("trade_state") == "SUCCESS")
        answer = await self._alipay("alipay.trade.query", {"out_trade_no": otn})
        return bool(answer.get("trade_status") in ("TRADE_SUCCESS", "TRADE_FINISHED"))

    # ---- Alipay -------------------------------------------------------------------------------------

    async def _alipay(self, method: str, biz: dict[str, Any] | None, **top: str) -> dict[str, Any]:
        key = serialization.load_pem_private_key(
            self.settings.path(self.settings.alipay.app_private_key).read_bytes(), None
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        params = {
            "app_id": self.settings.alipay.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            **top,
        }
        if biz is not None:
            params["biz_content"] = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
        params["sign"] = rsa2_sign(key, string_to_sign(params))
        async with httpx.AsyncClient() as http:
            response = await http.post(self.settings.alipay.gateway, data=params)
        document = response.json()
        body: dict[str, Any] = document.get(method.replace(".", "_") + "_response") or document["error_response"]
        return body

    async def _alipay_buyer(self, params: Any) -> str | None:
        answer = await self._alipay(
            "alipay.system.oauth.token", None, grant_type="authorization_code", code=params.get("auth_code", "")
        )
        if answer.get("open_id"):
            return "open:" + str(answer["open_id"])
        return "user:" + str(answer["user_id"]) if answer.get("user_id") else None

    async def _trade_create(self, otn: str, amount_fen: int, buyer: str) -> str:
        kind, _, value = buyer.partition(":")
        biz = {
            "out_trade_no": otn,
            "total_amount": fen_to_yuan(amount_fen),
            "subject": "Contract page order",
            ("buyer_open_id" if kind == "open" else "buyer_id"): value,
        }
        answer = await self._alipay("alipay.trade.create", biz, notify_url=self.public + "/notify/alipay")
        return str(answer["trade_no"])
