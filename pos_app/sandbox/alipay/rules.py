"""The gateway's business rules as pure functions over a loaded trade (spec alipay-f2f.md §3).

Each function takes what the caller loaded (the trade, its refunds, the request's biz fields, the
time) and returns an :class:`Outcome`: the reply, the trade/refund to save and the notifications
owed. Nothing here reads a clock, a database or the network, so every rule is testable on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pos_app.domain.china_time import CHINA_TZ, in_china
from pos_app.domain.money import fen_to_yuan
from pos_app.sandbox.alipay.model import (
    CANCEL_WINDOW,
    DEFAULT_BUYER_LOGON_ID,
    DEFAULT_PAY_TIMEOUT,
    DEFAULT_QR_TIMEOUT,
    FUND_CHANNEL,
    MAX_AMOUNT_FEN,
    MIN_AMOUNT_FEN,
    OUT_REQUEST_NO,
    OUT_TRADE_NO,
    Kind,
    Notice,
    Pending,
    Refund,
    Reply,
    Status,
    Trade,
    fmt_time,
    new_buyer_user_id,
    new_qr_code,
    new_trade_no,
    parse_timeout,
    parse_yuan,
)

SUCCESS = ("10000", "Success")
PAY_IN_PROCESS = ("10003", "order success pay inprocess")
BUSINESS_FAILED = "Business Failed"

#: sub_msg texts as Alipay writes them.
SUB_MSGS = {
    "ACQ.TRADE_NOT_EXIST": "交易不存在",
    "ACQ.TRADE_HAS_SUCCESS": "交易已被支付",
    "ACQ.TRADE_HAS_CLOSE": "交易已经关闭",
    "ACQ.CONTEXT_INCONSISTENT": "交易信息被篡改",
    "ACQ.TOTAL_FEE_EXCEED": "订单金额超过限额",
    "ACQ.INVALID_PARAMETER": "参数无效",
    "ACQ.BUYER_BALANCE_NOT_ENOUGH": "买家余额不足",
    "ACQ.PAYMENT_AUTH_CODE_INVALID": "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款",
    "ACQ.PAYMENT_FAIL": "支付失败",
    "ACQ.TRADE_STATUS_ERROR": "交易状态不合法",
    "ACQ.TRADE_CANCEL_TIME_OUT": "超过撤销时间范围",
    "ACQ.REASON_TRADE_REFUND_FEE_ERR": "交易已退款，不允许撤销",
    "ACQ.DISCORDANT_REPEAT_REQUEST": "不一致的请求",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": "退款金额超限",
    "ACQ.TRADE_NOT_ALLOW_REFUND": "当前交易不允许退款",
    "ACQ.SYSTEM_ERROR": "系统错误",
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": "卖家余额不足",
}


@dataclass(frozen=True, slots=True)
class Env:
    """What a rule may know about the request besides its biz fields."""

    now: datetime
    app_id: str = ""
    notify_url: str = ""
    notify_wait_buyer_pay: bool = False


@dataclass(slots=True)
class Outcome:
    reply: Reply
    trade: Trade | None = None  # save this (new or changed)
    refund: Refund | None = None  # insert this
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Payer:
    """What the wallet decided about a scanned payment code (see :mod:`pos_app.sandbox.wallet`)."""

    outcome: str  # "pay" | "invalid" | "balance" | "fail"
    buyer_user_id: str = ""
    buyer_logon_id: str = DEFAULT_BUYER_LOGON_ID
    #: When the buyer must confirm a password first: how long that takes and what they then do.
    pending: Pending | None = None
    pending_for: timedelta = timedelta(0)


def fail(sub_code: str, fields: Mapping[str, object] | None = None, sub_msg: str = "") -> Reply:
    return Reply("40004", BUSINESS_FAILED, sub_code, sub_msg or SUB_MSGS.get(sub_code, sub_code), dict(fields or {}))


def failed_trade_fields(out_trade_no: str) -> dict[str, object]:
    """Failed trade calls still echo out_trade_no and zero amounts (spec §2)."""
    fields: dict[str, object] = {"buyer_pay_amount": "0.00", "invoice_amount": "0.00"}
    if out_trade_no:
        fields["out_trade_no"] = out_trade_no
    fields.update({"point_amount": "0.00", "receipt_amount": "0.00"})
    return fields


def _text(biz: Mapping[str, object], name: str) -> str:
    value = biz.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _check_order(biz: Mapping[str, object]) -> tuple[Reply | None, str, int]:
    """Validate out_trade_no, total_amount and subject; returns (error, out_trade_no, total_fen)."""
    out_trade_no = _text(biz, "out_trade_no")
    if not OUT_TRADE_NO.fullmatch(out_trade_no):
        return fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效: out_trade_no"), out_trade_no, 0
    if not _text(biz, "subject"):
        return fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效: subject"), out_trade_no, 0
    raw = biz.get("total_amount")
    total = parse_yuan(raw) if isinstance(raw, str) else None
    if total is None:
        return fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效: total_amount"), out_trade_no, 0
    if not MIN_AMOUNT_FEN <= total <= MAX_AMOUNT_FEN:
        return fail("ACQ.TOTAL_FEE_EXCEED"), out_trade_no, total
    return None, out_trade_no, total


def _timeout(biz: Mapping[str, object], now: datetime, names: Sequence[str], default: timedelta) -> datetime:
    for name in names:
        text = _text(biz, name)
        if text == "1c":
            midnight = in_china(now).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            return midnight
        span = parse_timeout(text) if text else None
        if span is not None:
            return now + span
    return now + default


def _reuse_error(trade: Trade, total: int, subject: str) -> Reply | None:
    """The out_trade_no rules of spec §3 for a number the gateway has seen before."""
    if trade.kind != Kind.CANCELLED_UNSEEN and (trade.total_fen != total or trade.subject != subject):
        return fail("ACQ.CONTEXT_INCONSISTENT", failed_trade_fields(trade.out_trade_no))
    if trade.paid:
        return fail("ACQ.TRADE_HAS_SUCCESS", failed_trade_fields(trade.out_trade_no))
    if trade.status == Status.TRADE_CLOSED:
        return fail("ACQ.TRADE_HAS_CLOSE", failed_trade_fields(trade.out_trade_no))
    return None


def _with_extras(trade: Trade, biz: Mapping[str, object]) -> Trade:
    """The optional order fields every in-store method may carry (spec §3, "Optional everywhere")."""
    trade.body = _text(biz, "body")
    trade.store_id = _text(biz, "store_id")
    trade.terminal_id = _text(biz, "terminal_id")
    trade.operator_id = _text(biz, "operator_id")
    return trade


# --- time ---------------------------------------------------------------------------------------


def settle(trade: Trade, now: datetime) -> list[Notice]:
    """Apply what time alone decides (password confirmed or abandoned, unpaid trade timed out).

    Mutates ``trade``; returns the notifications owed. Call on every load, before any rule.
    """
    if trade.status not in (Status.PRECREATED, Status.WAIT_BUYER_PAY):
        return []
    expires = trade.expires_at
    decided = trade.pending_until if trade.pending is not None else None
    if decided is not None and decided <= now and (expires is None or decided <= expires):
        outcome = trade.pending
        trade.pending, trade.pending_until = None, None
        if outcome == Pending.CONFIRM:
            trade.status, trade.paid_at = Status.TRADE_SUCCESS, decided
            return [Notice(Status.TRADE_SUCCESS)]
        trade.status, trade.closed_at = Status.TRADE_CLOSED, decided
        return [Notice(Status.TRADE_CLOSED)]
    if expires is not None and expires <= now:
        was_visible = trade.status == Status.WAIT_BUYER_PAY
        trade.status, trade.closed_at = Status.TRADE_CLOSED, expires
        trade.pending, trade.pending_until = None, None
        return [Notice(Status.TRADE_CLOSED)] if was_visible else []
    return []


def next_deadline(trade: Trade) -> datetime | None:
    """When :func:`settle` will next change this trade (for a wake-up timer)."""
    if trade.status not in (Status.PRECREATED, Status.WAIT_BUYER_PAY):
        return None
    times = [t for t in (trade.expires_at, trade.pending_until if trade.pending else None) if t is not None]
    return min(times) if times else None


# --- precreate / scan / pay ---------------------------------------------------------------------


def precreate(existing: Trade | None, biz: Mapping[str, object], env: Env) -> Outcome:
    error, out_trade_no, total = _check_order(biz)
    if error is not None:
        return Outcome(error)
    subject = _text(biz, "subject")
    if existing is not None:
        reuse = _reuse_error(existing, total, subject)
        if reuse is not None:
            return Outcome(reuse)
        if existing.qr_code:
            return Outcome(Reply(*SUCCESS, fields={"out_trade_no": out_trade_no, "qr_code": existing.qr_code}))
    trade = _with_extras(
        Trade(
            out_trade_no=out_trade_no,
            kind=Kind.PRECREATE,
            status=Status.PRECREATED,
            total_fen=total,
            subject=subject,
            ordered_at=env.now,
            expires_at=_timeout(biz, env.now, ("qr_code_timeout_express", "timeout_express"), DEFAULT_QR_TIMEOUT),
            app_id=env.app_id,
            notify_url=env.notify_url,
            qr_code=new_qr_code(),
        ),
        biz,
    )
    if existing is not None:  # an unpaid bar-code trade turned into a QR: keep what Alipay already knows
        trade = dataclasses.replace(existing, qr_code=trade.qr_code, notify_url=env.notify_url or existing.notify_url)
    return Outcome(Reply(*SUCCESS, fields={"out_trade_no": out_trade_no, "qr_code": trade.qr_code}), trade)


def scan(trade: Trade, now: datetime, buyer_user_id: str = "", *, notify_wait: bool = False) -> Outcome:
    """The buyer scanned a precreated QR: the Alipay trade now exists, waiting for payment."""
    if trade.status == Status.WAIT_BUYER_PAY:
        return Outcome(Reply(*SUCCESS), trade)
    if trade.status != Status.PRECREATED:
        return Outcome(fail("ACQ.TRADE_HAS_SUCCESS" if trade.paid else "ACQ.TRADE_HAS_CLOSE"))
    trade.status = Status.WAIT_BUYER_PAY
    trade.trade_no = new_trade_no(now)
    trade.created_at = now
    trade.buyer_user_id = buyer_user_id or new_buyer_user_id()
    trade.buyer_logon_id = DEFAULT_BUYER_LOGON_ID
    return Outcome(Reply(*SUCCESS), trade, notices=[Notice(Status.WAIT_BUYER_PAY)] if notify_wait else [])


PRODUCT_CODES = ("FACE_TO_FACE_PAYMENT", "OFFLINE_PAYMENT", "JSAPI_PAY")


@dataclass(frozen=True, slots=True)
class CreateBuyer:
    """The buyer of an alipay.trade.create as the gateway resolved it (ids per the app's id mode)."""

    user_id: str
    open_id: str


def create(
    existing: Trade | None,
    biz: Mapping[str, object],
    env: Env,
    buyer: CreateBuyer | str,
    *,
    require_jsapi_pay: bool = False,
    seller_id: str = "",
) -> Outcome:
    """alipay.trade.create (jsapi spec §3): the trade exists at once, WAIT_BUYER_PAY, bound to the buyer.

    ``buyer`` is the resolved buyer or why the named one is refused. Re-posting the same parameters
    answers the same trade_no (idempotency is unconfirmed at the real gateway; a choice here).
    """
    error, out_trade_no, total = _check_order(biz)
    if error is not None:
        return Outcome(error)
    if not _text(biz, "buyer_id") and not _text(biz, "buyer_open_id"):
        return Outcome(fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效:买家不能为空"))
    product_code = _text(biz, "product_code")
    if product_code and product_code not in PRODUCT_CODES:
        return Outcome(fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效: product_code"))
    if require_jsapi_pay and product_code != "JSAPI_PAY":
        return Outcome(fail("ACQ.ACCESS_FORBIDDEN", sub_msg="未签约JSAPI支付产品，product_code 须为 JSAPI_PAY"))
    if product_code == "JSAPI_PAY" and _text(biz, "op_app_id") != env.app_id:
        return Outcome(fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效: op_app_id"))
    if seller_id and _text(biz, "buyer_id") == seller_id:
        return Outcome(fail("ACQ.BUYER_SELLER_EQUAL", sub_msg="交易的买家与卖家不能相同"))
    if isinstance(buyer, str):
        return Outcome(fail("ACQ.INVALID_PARAMETER", sub_msg=buyer))
    subject = _text(biz, "subject")
    if existing is not None:
        reuse = _reuse_error(existing, total, subject)
        if reuse is not None:
            return Outcome(reuse)
        if existing.kind != Kind.CREATE or (existing.buyer_user_id, existing.buyer_open_id) != (
            buyer.user_id,
            buyer.open_id,
        ):
            return Outcome(fail("ACQ.CONTEXT_INCONSISTENT", failed_trade_fields(out_trade_no)))
        return Outcome(Reply(*SUCCESS, fields={"out_trade_no": out_trade_no, "trade_no": existing.trade_no}))
    trade = _with_extras(
        Trade(
            out_trade_no=out_trade_no,
            kind=Kind.CREATE,
            status=Status.WAIT_BUYER_PAY,
            total_fen=total,
            subject=subject,
            ordered_at=env.now,
            expires_at=_timeout(biz, env.now, ("timeout_express",), DEFAULT_QR_TIMEOUT),
            app_id=env.app_id,
            notify_url=env.notify_url,
            trade_no=new_trade_no(env.now),
            created_at=env.now,
            buyer_user_id=buyer.user_id,
            buyer_open_id=buyer.open_id,
            buyer_logon_id=DEFAULT_BUYER_LOGON_ID,
        ),
        biz,
    )
    reply = Reply(*SUCCESS, fields={"out_trade_no": out_trade_no, "trade_no": trade.trade_no})
    return Outcome(reply, trade, notices=[Notice(Status.WAIT_BUYER_PAY)] if env.notify_wait_buyer_pay else [])


def native_pay(trade: Trade, now: datetime) -> Outcome:
    """The buyer who scanned confirms the payment in the wallet."""
    if trade.status != Status.WAIT_BUYER_PAY:
        return Outcome(fail("ACQ.TRADE_HAS_SUCCESS" if trade.paid else "ACQ.TRADE_STATUS_ERROR"))
    trade.status, trade.paid_at = Status.TRADE_SUCCESS, now
    return Outcome(Reply(*SUCCESS), trade, notices=[Notice(Status.TRADE_SUCCESS)])


def check_pay(existing: Trade | None, biz: Mapping[str, object]) -> Outcome | None:
    """Everything about a bar-code pay that can be refused before the payment code is used.

    Returns None when the wallet should now be asked; otherwise the final outcome (an error, or
    the current state of a pay the gateway already holds for this out_trade_no).
    """
    error, out_trade_no, total = _check_order(biz)
    if error is not None:
        error.fields = {**failed_trade_fields(out_trade_no), **error.fields}
        return Outcome(error)
    scene = _text(biz, "scene") or "bar_code"
    if scene not in ("bar_code", "wave_code", "security_code"):
        return Outcome(fail("ACQ.INVALID_PARAMETER", failed_trade_fields(out_trade_no), "参数无效: scene"))
    if not _text(biz, "auth_code"):
        return Outcome(fail("ACQ.INVALID_PARAMETER", failed_trade_fields(out_trade_no), "参数无效: auth_code"))
    if existing is None:
        return None
    reuse = _reuse_error(existing, total, _text(biz, "subject"))
    if reuse is not None:
        return Outcome(reuse)
    if existing.status == Status.WAIT_BUYER_PAY:  # a retry while the buyer types the password
        return Outcome(Reply(*PAY_IN_PROCESS, fields=pay_fields(existing)))
    return None


def pay(existing: Trade | None, biz: Mapping[str, object], payer: Payer, env: Env) -> Outcome:
    """A bar-code pay after :func:`check_pay` let it through and the wallet judged the code."""
    out_trade_no = _text(biz, "out_trade_no")
    total = parse_yuan(_text(biz, "total_amount")) or 0
    if payer.outcome == "invalid":
        return Outcome(fail("ACQ.PAYMENT_AUTH_CODE_INVALID", failed_trade_fields(out_trade_no)))
    if payer.outcome == "balance":
        return Outcome(fail("ACQ.BUYER_BALANCE_NOT_ENOUGH", failed_trade_fields(out_trade_no)))
    if payer.outcome != "pay":
        return Outcome(fail("ACQ.PAYMENT_FAIL", failed_trade_fields(out_trade_no)))
    auth_code = _text(biz, "auth_code")
    trade = _with_extras(
        Trade(
            out_trade_no=out_trade_no,
            kind=Kind.PAY,
            status=Status.WAIT_BUYER_PAY,
            total_fen=total,
            subject=_text(biz, "subject"),
            ordered_at=env.now,
            expires_at=_timeout(biz, env.now, ("timeout_express",), DEFAULT_PAY_TIMEOUT),
            app_id=env.app_id,
            notify_url=env.notify_url,
            trade_no=new_trade_no(env.now),
            created_at=env.now,
            buyer_user_id=payer.buyer_user_id or new_buyer_user_id(),
            buyer_logon_id=payer.buyer_logon_id,
            auth_code_tail=auth_code[-4:],
        ),
        biz,
    )
    if existing is not None:
        trade.ordered_at = existing.ordered_at
        trade.qr_code = existing.qr_code
    if payer.pending is not None:
        trade.pending = payer.pending
        trade.pending_until = env.now + payer.pending_for
        return Outcome(Reply(*PAY_IN_PROCESS, fields=pay_fields(trade)), trade)
    trade.status, trade.paid_at = Status.TRADE_SUCCESS, env.now
    notices = [Notice(Status.TRADE_SUCCESS)] if env.notify_url else []
    return Outcome(Reply(*SUCCESS, fields=pay_fields(trade)), trade, notices=notices)


def _fund_bill_list(trade: Trade) -> list[dict[str, str]]:
    amount = fen_to_yuan(trade.total_fen)
    return [{"amount": amount, "fund_channel": FUND_CHANNEL, "real_amount": amount}]


def pay_fields(trade: Trade) -> dict[str, object]:
    """alipay.trade.pay's reply fields (10000, or 10003 with the money not yet moved)."""
    paid = trade.paid
    money = fen_to_yuan(trade.total_fen) if paid else "0.00"
    fields: dict[str, object] = {
        "buyer_logon_id": trade.buyer_logon_id,
        "buyer_pay_amount": money,
        "buyer_user_id": trade.buyer_user_id,
    }
    if paid:
        fields["fund_bill_list"] = _fund_bill_list(trade)
        fields["gmt_payment"] = fmt_time(trade.paid_at)  # type: ignore[arg-type]
    fields.update(
        {
            "invoice_amount": money,
            "out_trade_no": trade.out_trade_no,
            "point_amount": "0.00",
            "receipt_amount": money,
        }
    )
    if trade.store_name:
        fields["store_name"] = trade.store_name
    fields.update({"total_amount": fen_to_yuan(trade.total_fen), "trade_no": trade.trade_no})
    return fields


# --- query / close / cancel ---------------------------------------------------------------------


def query(trade: Trade | None, asked_out_trade_no: str) -> Outcome:
    if trade is None or not trade.visible:
        return Outcome(fail("ACQ.TRADE_NOT_EXIST", failed_trade_fields(asked_out_trade_no)))
    paid = trade.paid
    money = fen_to_yuan(trade.total_fen) if paid else "0.00"
    fields: dict[str, object] = {
        "buyer_logon_id": trade.buyer_logon_id,
        "buyer_open_id": trade.buyer_open_id,
        "buyer_pay_amount": money,
        "buyer_user_id": trade.buyer_user_id,
    }
    for name in ("buyer_open_id", "buyer_user_id"):  # an openid-mode app gets only the open_id
        if not fields[name]:
            del fields[name]
    if paid:
        fields["fund_bill_list"] = _fund_bill_list(trade)
    fields.update(
        {
            "invoice_amount": money,
            "out_trade_no": trade.out_trade_no,
            "point_amount": "0.00",
            "receipt_amount": money,
        }
    )
    if paid:
        fields["send_pay_date"] = fmt_time(trade.paid_at)  # type: ignore[arg-type]
    if trade.store_id:
        fields["store_id"] = trade.store_id
    if trade.terminal_id:
        fields["terminal_id"] = trade.terminal_id
    fields.update(
        {"total_amount": fen_to_yuan(trade.total_fen), "trade_no": trade.trade_no, "trade_status": trade.status.value}
    )
    return Outcome(Reply(*SUCCESS, fields=fields))


def close(trade: Trade | None, now: datetime, operator_id: str = "") -> Outcome:
    """Close an unpaid trade. A never-scanned QR answers TRADE_NOT_EXIST but is closed all the same,
    so a scan that comes after the merchant gave up cannot take money."""
    if trade is None or trade.kind == Kind.CANCELLED_UNSEEN:
        return Outcome(fail("ACQ.TRADE_NOT_EXIST"))
    if trade.status == Status.PRECREATED:
        trade.status, trade.closed_at = Status.TRADE_CLOSED, now
        return Outcome(fail("ACQ.TRADE_NOT_EXIST"), trade)
    if not trade.visible:
        return Outcome(fail("ACQ.TRADE_NOT_EXIST"))
    if trade.status != Status.WAIT_BUYER_PAY:
        return Outcome(fail("ACQ.TRADE_STATUS_ERROR", {"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}))
    trade.status, trade.closed_at = Status.TRADE_CLOSED, now
    trade.pending, trade.pending_until = None, None
    if operator_id:
        trade.operator_id = trade.operator_id or operator_id
    fields: dict[str, object] = {"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}
    return Outcome(Reply(*SUCCESS, fields=fields), trade, notices=[Notice(Status.TRADE_CLOSED)])


def cancel(trade: Trade | None, out_trade_no: str, by_trade_no: bool, now: datetime) -> Outcome:
    """撤销 (spec §3.4): close an unpaid trade, refund a paid one, within 24 h of the order."""
    if trade is None:
        if by_trade_no or not out_trade_no:
            return Outcome(fail("ACQ.TRADE_NOT_EXIST"))
        # An order the gateway never saw "cancels" fine; the number can no longer be paid.
        placeholder = Trade(
            out_trade_no=out_trade_no,
            kind=Kind.CANCELLED_UNSEEN,
            status=Status.TRADE_CLOSED,
            total_fen=0,
            subject="",
            ordered_at=now,
            expires_at=None,
            closed_at=now,
            cancel_action="close",
        )
        reply = Reply(*SUCCESS, fields={"action": "close", "out_trade_no": out_trade_no, "retry_flag": "N"})
        return Outcome(reply, placeholder)
    fields: dict[str, object] = {"out_trade_no": trade.out_trade_no, "retry_flag": "N"}
    if trade.trade_no:
        fields["trade_no"] = trade.trade_no
    if trade.cancel_action:  # a repeated cancel answers like the first one
        return Outcome(Reply(*SUCCESS, fields={"action": trade.cancel_action, **fields}))
    if now - trade.ordered_at > CANCEL_WINDOW:
        return Outcome(fail("ACQ.TRADE_CANCEL_TIME_OUT", {"out_trade_no": trade.out_trade_no, "retry_flag": "N"}))
    if trade.status in (Status.PRECREATED, Status.WAIT_BUYER_PAY, Status.TRADE_CLOSED) and not trade.paid:
        notices = [Notice(Status.TRADE_CLOSED)] if trade.status == Status.WAIT_BUYER_PAY else []
        if trade.status != Status.TRADE_CLOSED:
            trade.status, trade.closed_at = Status.TRADE_CLOSED, now
        trade.pending, trade.pending_until = None, None
        trade.cancel_action = "close"
        return Outcome(Reply(*SUCCESS, fields={"action": "close", **fields}), trade, notices=notices)
    if trade.refunded_fen > 0 or trade.status == Status.TRADE_FINISHED:
        return Outcome(fail("ACQ.REASON_TRADE_REFUND_FEE_ERR", {"out_trade_no": trade.out_trade_no, "retry_flag": "N"}))
    refund = Refund(
        out_trade_no=trade.out_trade_no,
        out_request_no=trade.out_trade_no,
        amount_fen=trade.total_fen,
        refunded_at=now,
        refund_fee_after=trade.total_fen,
        reason="撤销",
        by_cancel=True,
        store_id=trade.store_id,
        operator_id=trade.operator_id,
        terminal_id=trade.terminal_id,
    )
    trade.refunded_fen = trade.total_fen
    trade.status, trade.closed_at = Status.TRADE_CLOSED, now
    trade.cancel_action = "refund"
    fields = {"action": "refund", **fields, "gmt_refund_pay": fmt_time(now)}
    return Outcome(Reply(*SUCCESS, fields=fields), trade, refund, notices=[Notice(Status.TRADE_CLOSED, refund)])


# --- refunds ------------------------------------------------------------------------------------


def refund(trade: Trade | None, refunds: Sequence[Refund], biz: Mapping[str, object], now: datetime) -> Outcome:
    """alipay.trade.refund with the out_request_no replay rules of spec §3.6."""
    if trade is None or not trade.visible:
        return Outcome(fail("ACQ.TRADE_NOT_EXIST"))
    raw = biz.get("refund_amount")
    amount = parse_yuan(raw) if isinstance(raw, str) else None
    if amount is None or amount < MIN_AMOUNT_FEN:
        return Outcome(fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效: refund_amount"))
    request_no = _text(biz, "out_request_no") or trade.out_trade_no
    if not OUT_REQUEST_NO.fullmatch(request_no):
        return Outcome(fail("ACQ.INVALID_PARAMETER", sub_msg="参数无效: out_request_no"))
    earlier = next((r for r in refunds if r.out_request_no == request_no and not r.by_cancel), None)
    if earlier is not None:
        if earlier.amount_fen != amount:
            return Outcome(fail("ACQ.DISCORDANT_REPEAT_REQUEST"))
        return Outcome(Reply(*SUCCESS, fields=refund_fields(trade, earlier, fund_change=False)))
    if not trade.paid or trade.cancel_action:
        return Outcome(fail("ACQ.TRADE_STATUS_ERROR"))
    if trade.status == Status.TRADE_FINISHED:
        return Outcome(fail("ACQ.TRADE_NOT_ALLOW_REFUND"))
    if trade.refunded_fen + amount > trade.total_fen:
        return Outcome(fail("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"))
    trade.refunded_fen += amount
    new = Refund(
        out_trade_no=trade.out_trade_no,
        out_request_no=request_no,
        amount_fen=amount,
        refunded_at=now,
        refund_fee_after=trade.refunded_fen,
        reason=_text(biz, "refund_reason"),
        store_id=_text(biz, "store_id") or trade.store_id,
        operator_id=_text(biz, "operator_id") or trade.operator_id,
        terminal_id=_text(biz, "terminal_id") or trade.terminal_id,
    )
    if trade.refunded_fen == trade.total_fen:
        trade.status, trade.closed_at = Status.TRADE_CLOSED, now
    notice = Notice(trade.status, new)
    return Outcome(Reply(*SUCCESS, fields=refund_fields(trade, new, fund_change=True)), trade, new, [notice])


def refund_fields(trade: Trade, refund: Refund, *, fund_change: bool) -> dict[str, object]:
    amount = fen_to_yuan(refund.amount_fen)
    return {
        "buyer_logon_id": trade.buyer_logon_id,
        "buyer_user_id": trade.buyer_user_id,
        "fund_change": "Y" if fund_change else "N",
        "gmt_refund_pay": fmt_time(refund.refunded_at),
        "out_trade_no": trade.out_trade_no,
        "refund_detail_item_list": [{"amount": amount, "fund_channel": FUND_CHANNEL, "real_amount": amount}],
        "refund_fee": fen_to_yuan(trade.refunded_fen),
        "send_back_fee": amount,
        "trade_no": trade.trade_no,
    }


def refund_query(trade: Trade | None, refunds: Sequence[Refund], biz: Mapping[str, object]) -> Outcome:
    if trade is None or not trade.visible:
        return Outcome(fail("ACQ.TRADE_NOT_EXIST"))
    request_no = _text(biz, "out_request_no") or trade.out_trade_no
    fields: dict[str, object] = {"out_request_no": request_no, "out_trade_no": trade.out_trade_no}
    found = next((r for r in refunds if r.out_request_no == request_no), None)
    if found is None:  # not received: no refund_status (spec §3.7)
        fields["trade_no"] = trade.trade_no
        return Outcome(Reply(*SUCCESS, fields=fields))
    amount = fen_to_yuan(found.amount_fen)
    fields.update(
        {
            "gmt_refund_pay": fmt_time(found.refunded_at),
            "refund_amount": amount,
            "refund_detail_item_list": [{"amount": amount, "fund_channel": FUND_CHANNEL, "real_amount": amount}],
            "refund_reason": found.reason,
            "refund_status": "REFUND_SUCCESS",
            "send_back_fee": amount,
            "total_amount": fen_to_yuan(trade.total_fen),
            "trade_no": trade.trade_no,
        }
    )
    if not found.reason:
        fields.pop("refund_reason")
    return Outcome(Reply(*SUCCESS, fields=fields))


def bill_day_bounds(day_text: str) -> tuple[datetime, datetime] | None:
    """``yyyy-MM-dd`` → [start, end) in GMT+8; None when not a valid daily bill date."""
    try:
        start = datetime.strptime(day_text, "%Y-%m-%d").replace(tzinfo=CHINA_TZ)
    except ValueError:
        return None
    return start, start + timedelta(days=1)
