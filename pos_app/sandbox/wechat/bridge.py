"""The WeChat JS bridge, ``getBrandWCPayRequest`` (spec jsapi §4, §6): what the wallet checks and does.

The simulated phone hands over what the page would pass to ``WeixinJSBridge.invoke`` plus the page URL,
the user and the scripted choice. Checks, with the front-end error WeChat shows for each:

- the page lies under the pay directory (支付授权目录) — "当前页面的URL未注册";
- ``package`` names a prepay of this sandbox, under 2 h old, whose appid is ``appId`` — "缺少参数";
- ``timeStamp`` is Unix seconds (10 digits), ``nonceStr`` ≤ 32, ``signType`` is ``RSA``;
- the simulated user's openid is the prepay's ``payer.openid`` — "下单账号与支付账号不一致";
- ``paySign`` verifies under the merchant's public key over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``.

Then the choice: pay → SUCCESS + the signed, encrypted TRANSACTION.SUCCESS (retried like native
orders); cancel; fail. Quirks: paid but the callback says cancel, or never comes; the notification
delayed or dropped (a one-time notification fault on this order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pos_app.engine.crypto.rsa import SignatureInvalid, verify_sha256_rsa
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.faults import FaultKind, FaultSpec
from pos_app.sandbox.webauth import pay_directory
from pos_app.sandbox.wechat import rules, store, web_store
from pos_app.sandbox.wechat.oauth import openid_for

GATEWAY = "wechat"
OK = "get_brand_wcpay_request:ok"
CANCEL = "get_brand_wcpay_request:cancel"
FAIL = "get_brand_wcpay_request:fail"
PACKAGE = re.compile(r"prepay_id=(wx[0-9A-Za-z]{1,64})")
PAY_FIELDS = ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign")

Choice = Literal["pay", "cancel", "fail"]
Quirk = Literal["none", "cancel_although_paid", "no_callback"]
NotifyMode = Literal["normal", "delay", "drop"]


@dataclass(frozen=True, slots=True)
class BridgeRequest:
    page_url: str
    pay: dict[str, str]
    user: str
    choice: Choice = "pay"
    quirk: Quirk = "none"
    notify: NotifyMode = "normal"
    notify_delay_s: float = 30.0


@dataclass(frozen=True, slots=True)
class BridgeAnswer:
    """What the page's callback receives (``err_msg`` None: no callback at all), plus the truth."""

    err_msg: str | None
    err_desc: str
    out_trade_no: str | None
    trade_state: str | None  # the order's state after the action (for tests and the CLI, not the page)


def pay_message(pay: dict[str, str]) -> bytes:
    """What ``paySign`` signs: four lines, each ending in ``\\n`` (signType is not signed)."""
    return f"{pay['appId']}\n{pay['timeStamp']}\n{pay['nonceStr']}\n{pay['package']}\n".encode()


def _fail(desc: str, out_trade_no: str | None = None, state: str | None = None) -> BridgeAnswer:
    return BridgeAnswer(FAIL, desc, out_trade_no, state)


def invoke(ctx: SandboxContext, request: BridgeRequest) -> BridgeAnswer:
    pay = request.pay
    if any(not isinstance(pay.get(name), str) for name in PAY_FIELDS):
        return _fail("调用支付JSAPI缺少参数")
    if not request.page_url.startswith(pay_directory(ctx)):
        return _fail("当前页面的URL未注册")
    match = PACKAGE.fullmatch(pay["package"])
    if match is None:
        return _fail("调用支付JSAPI缺少参数：total_fee")
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        prepay = web_store.load_prepay(conn, match.group(1))
        order = None if prepay is None else store.load_order(conn, prepay["out_trade_no"])
    if prepay is None or order is None or now - prepay["created_at"] >= rules.PREPAY_TTL_S:
        return _fail("调用支付JSAPI缺少参数：total_fee")
    otn = str(order["out_trade_no"])
    if pay["appId"] != order["appid"]:
        return _fail("调用支付JSAPI缺少参数：total_fee", otn, order["trade_state"])
    if not re.fullmatch(r"\d{10}", pay["timeStamp"]) or not 0 < len(pay["nonceStr"]) <= 32:
        return _fail("支付验证签名失败", otn, order["trade_state"])
    if pay["signType"] != "RSA":
        return _fail("支付验证签名失败", otn, order["trade_state"])
    try:
        verify_sha256_rsa(ctx.keys.wechat.merchant_public_key, pay_message(pay), pay["paySign"])
    except SignatureInvalid:
        return _fail("支付验证签名失败", otn, order["trade_state"])
    if openid_for(ctx, order["appid"], request.user) != order["pending_openid"]:
        return _fail("下单账号与支付账号不一致", otn, order["trade_state"])
    order = rules.load_order(ctx, out_trade_no=otn)
    state = str(order["trade_state"])
    if state in ("SUCCESS", "REFUND"):
        return _fail("该订单已支付", otn, state)
    if state != "NOTPAY":
        return _fail("订单已关闭", otn, state)
    if order["time_expire"] is not None and now > order["time_expire"]:
        return _fail("订单已过期", otn, state)
    if request.choice == "cancel":
        return BridgeAnswer(CANCEL, "", otn, state)
    if request.choice == "fail":
        return _fail("支付失败", otn, state)
    if request.notify != "normal":
        kind = FaultKind.NOTIFY_DROP if request.notify == "drop" else FaultKind.NOTIFY_DELAY
        ctx.faults.add(FaultSpec(kind=kind, gateway=GATEWAY, out_trade_no=otn, seconds=request.notify_delay_s, times=1))
    paid = rules.pay_jsapi_order(ctx, otn, openid=order["pending_openid"])
    err_msg = {"none": OK, "cancel_although_paid": CANCEL, "no_callback": None}[request.quirk]
    return BridgeAnswer(err_msg, "", otn, str(paid["trade_state"]))
