"""The Alipay JS bridge, ``AlipayJSBridge.call('tradePay', {tradeNO})`` (spec alipay-jsapi.md §4, §6).

Checks that the ``tradeNO`` names a trade of this sandbox that is open (``WAIT_BUYER_PAY``, not timed
out) and that the simulated user is its buyer; anything else answers ``4000`` with the reason in
``memo`` (the real code for these cases is unconfirmed). Then the scripted choice: pay → ``9000`` and
the trade turns ``TRADE_SUCCESS`` (the signed form notification goes out and is retried like every
other); cancel → ``6001``; fail → ``4000`` (the trade stays open, as the real one does). Quirks: paid
but ``8000`` or ``6004`` answered, or no callback at all; the notification delayed or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pos_app.domain.china_time import CHINA_TZ
from pos_app.sandbox.alipay import rules
from pos_app.sandbox.alipay import store as db
from pos_app.sandbox.alipay.model import Status
from pos_app.sandbox.alipay.oauth import buyer_of
from pos_app.sandbox.alipay.routes import GATEWAY, apply_outcome, apply_settled, ensure_schema
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.faults import FaultKind, FaultSpec

Choice = Literal["pay", "cancel", "fail"]
Quirk = Literal["none", "8000", "6004", "no_callback"]
NotifyMode = Literal["normal", "delay", "drop"]


@dataclass(frozen=True, slots=True)
class TradePayRequest:
    trade_no: str
    user: str
    choice: Choice = "pay"
    quirk: Quirk = "none"
    notify: NotifyMode = "normal"
    notify_delay_s: float = 30.0


@dataclass(frozen=True, slots=True)
class TradePayAnswer:
    """What the page's callback receives (``result_code`` None: no callback), plus the truth."""

    result_code: str | None
    memo: str
    out_trade_no: str | None
    trade_status: str | None  # the trade's status after the action (tests and the CLI, not the page)

    def callback(self) -> dict[str, object] | None:
        if self.result_code is None:
            return None
        return {"resultCode": self.result_code, "memo": self.memo, "result": "", "callbackUrl": None}


def trade_pay(ctx: SandboxContext, request: TradePayRequest) -> TradePayAnswer:
    ensure_schema(ctx)
    now = datetime.fromtimestamp(ctx.now(GATEWAY), CHINA_TZ)
    with ctx.store.transaction() as conn:
        trade = db.load_trade(conn, trade_no=request.trade_no) if request.trade_no else None
        if trade is None:
            return TradePayAnswer("4000", "交易不存在", None, None)
        apply_settled(ctx, conn, trade, rules.settle(trade, now), now)
        otn, status = trade.out_trade_no, trade.status.value
        if trade.paid:
            return TradePayAnswer("4000", "交易已支付", otn, status)
        if trade.status != Status.WAIT_BUYER_PAY:
            return TradePayAnswer("4000", "交易已关闭", otn, status)
        payer = buyer_of(ctx, trade.app_id or ctx.keys.alipay.app_id, request.user)
        same_buyer = (trade.buyer_open_id and trade.buyer_open_id == payer.open_id) or (
            trade.buyer_user_id and trade.buyer_user_id == payer.user_id
        )
        if not same_buyer:
            return TradePayAnswer("4000", "ACQ.TRADE_BUYER_NOT_MATCH 交易买家不匹配", otn, status)
        if request.choice == "cancel":
            return TradePayAnswer("6001", "用户中途取消", otn, status)
        if request.choice == "fail":
            return TradePayAnswer("4000", "订单支付失败", otn, status)
        if request.notify != "normal":
            kind = FaultKind.NOTIFY_DROP if request.notify == "drop" else FaultKind.NOTIFY_DELAY
            ctx.faults.add(
                FaultSpec(kind=kind, gateway=GATEWAY, out_trade_no=otn, seconds=request.notify_delay_s, times=1)
            )
        outcome = rules.native_pay(trade, now)
        apply_outcome(ctx, conn, outcome, now)
    code = {"none": "9000", "8000": "8000", "6004": "6004", "no_callback": None}[request.quirk]
    return TradePayAnswer(code, "", otn, trade.status.value)
