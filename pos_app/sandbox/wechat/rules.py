"""WeChat Pay v3 business rules: orders (native, codepay), close, reverse, refunds, and what is due.

Every public function takes the sandbox context and raises
:class:`~pos_app.sandbox.wechat.protocol.WechatApiError` for an error answer. Choices where the spec
says "unconfirmed" (documented here and in the tests):

- Codepay needing a password answers **202** ``{"trade_state":"USERPAYING"}``; the order turns
  SUCCESS (or PAYERROR if the customer cancels) ``password_seconds`` later, seen by the order query.
- Codepay code errors: unknown / not a WeChat code → 400 ``AUTH_CODE_INVALID``; expired → 403
  ``AUTHCODEEXPIRE``; used for another order → 403 ``AUTH_CODE_ERROR`` (no order is recorded for these);
  balance too low → 403 ``NOTENOUGH`` and the order is recorded as PAYERROR.
- Close of a paid order → 400 ``ORDERPAID``; close of a codepay order → 400 ``INVALID_REQUEST`` with
  Request-ID code 268449641 (use reverse). Reverse while USERPAYING less than 15 s after the pay
  call → 403 ``USERPAYING`` (retry later); from 15 s on it cancels the payment (REVOKED).
  Reverse of a paid order more than 7 days old → 403 ``REVERSE_EXPIRE``; after a refund → 403 ``TRADE_ERROR``.
- Refunds are accepted as PROCESSING and turn SUCCESS :data:`REFUND_SETTLE_S` later (REFUND.SUCCESS
  is then sent to the refund's notify_url). Two refunds of one order less than 60 s apart → 429
  ``FREQUENCY_LIMITED`` (the same out_refund_no may be retried any time).
- JSAPI (jsapi spec §3): an openid the sandbox issued under another appid → 400 ``PARAM_ERROR``
  "appid和openid不匹配"; a malformed one → 400 ``PARAM_ERROR`` "无效的openid"; a well-formed openid it
  never issued is accepted (no simulated phone will match it). The prepay_id is ``wx`` + China-time
  ``YYYYMMDDhhmmss`` + 20 characters; an identical re-post after 2 h gets a new one.
- A native order past its ``time_expire`` (or its code_url past 2 h) cannot be paid; it stays NOTPAY
  until the merchant closes it.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Final

from pos_app.sandbox.clock import china_time
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.wallet import (
    AuthCodeRejection,
    OpenQr,
    PayOutcome,
    PayRequest,
    UnknownQrCode,
    consume_auth_code,
)
from pos_app.sandbox.wechat import store, web_store
from pos_app.sandbox.wechat.ids import new_code_token, new_openid, new_prepay_id, new_refund_id, new_transaction_id
from pos_app.sandbox.wechat.notify import notify_paid, notify_refund
from pos_app.sandbox.wechat.protocol import (
    RID_CODEPAY_CLOSE,
    RID_ORDER_NOT_EXIST,
    RID_PARAMS_DIFFER,
    WechatApiError,
    param_error,
)
from pos_app.sandbox.wechat.validation import (
    check_merchant,
    check_notify_url,
    check_out_refund_no,
    currency,
    fen,
    fingerprint,
    obj,
    order_fields,
    parse_time,
    required_obj,
    required_text,
    text,
)
from pos_app.sandbox.wechat.views import BANK_TYPE, refund_view, transaction_view

GATEWAY: Final = "wechat"
CODE_URL_PREFIX = "weixin://wxpay/bizpayurl?pr="
CODE_URL_TTL_S = 2 * 3600
PREPAY_TTL_S = 2 * 3600
OPENID_FORM = re.compile(r"[0-9A-Za-z_\-]{20,64}")
RID_JSAPI_NO_OPENID = 268501013
DEFAULT_ORDER_LIFE_S = 7 * 86400
MAX_TIME_EXPIRE_S = 90 * 86400
TIME_EXPIRE_MIN_S = 60
TIME_EXPIRE_GRACE_S = 5  # transit time allowed on the one-minute minimum
CANCEL_PASSWORD_DEFAULT_S = 5  # a customer who cancels still looks at the prompt a moment
USERPAYING_REVERSE_MIN_S = 15
REVERSE_WINDOW_S = 7 * 86400
REFUND_WINDOW_S = 365 * 86400
REFUND_SETTLE_S = 3.0
REFUND_MIN_INTERVAL_S = 60
MAX_REFUNDS = 50


def china_stamp(ts: float) -> str:
    return china_time(ts).strftime("%Y%m%d%H%M%S")


# ---- state changes that come due with time --------------------------------------------------------


def _reload(conn: sqlite3.Connection, out_trade_no: str) -> sqlite3.Row:
    row = store.load_order(conn, out_trade_no)
    assert row is not None  # the caller just wrote it, in this transaction
    return row


def _mark_paid(
    ctx: SandboxContext, conn: sqlite3.Connection, out_trade_no: str, *, when: float, openid: str
) -> sqlite3.Row:
    store.set_paid(
        conn, out_trade_no, transaction_id=new_transaction_id(), openid=openid, bank_type=BANK_TYPE, when=when
    )
    row = _reload(conn, out_trade_no)
    notify_paid(ctx, row)
    return row


def _settle_order(ctx: SandboxContext, conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> sqlite3.Row:
    """Apply what is due on one order (scheduled native payment, end of a password wait)."""
    otn = row["out_trade_no"]
    if row["trade_state"] == "NOTPAY" and row["pay_at"] is not None and row["pay_at"] <= now:
        return _mark_paid(ctx, conn, otn, when=row["pay_at"], openid=row["pending_openid"] or new_openid())
    if row["trade_state"] == "USERPAYING" and row["ready_at"] is not None and row["ready_at"] <= now:
        if row["ready_state"] == "SUCCESS":
            return _mark_paid(ctx, conn, otn, when=row["ready_at"], openid=row["pending_openid"] or new_openid())
        store.set_payerror(conn, otn, row["ready_desc"] or "支付失败")
        return _reload(conn, otn)
    return row


def _settle_refund(ctx: SandboxContext, conn: sqlite3.Connection, refund: sqlite3.Row) -> sqlite3.Row:
    store.set_refund_succeeded(conn, refund["out_refund_no"])
    settled = store.load_refund(conn, refund["out_refund_no"])
    assert settled is not None  # updated just above, in this transaction
    notify_refund(ctx, settled)
    return settled


def settle_due(ctx: SandboxContext) -> None:
    """The WeChat ticker: complete due payments and password waits; settle due refunds."""
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        for row in store.due_orders(conn, now):
            _settle_order(ctx, conn, row, now)
        for refund in store.due_refunds(conn, now):
            _settle_refund(ctx, conn, refund)


def load_order(
    ctx: SandboxContext, *, out_trade_no: str | None = None, transaction_id: str | None = None
) -> sqlite3.Row:
    """The order (after applying what is due), or 404 ORDER_NOT_EXIST."""
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        if out_trade_no is not None:
            row = store.load_order(conn, out_trade_no)
        else:
            row = store.load_order_by_transaction_id(conn, transaction_id)
        if row is None:
            raise WechatApiError(404, "ORDER_NOT_EXIST", "订单不存在", rid_code=RID_ORDER_NOT_EXIST)
        return _settle_order(ctx, conn, row, now)


# ---- prepay ---------------------------------------------------------------------------------------


def _existing(conn: sqlite3.Connection, out_trade_no: str, print_: str) -> sqlite3.Row | None:
    row = store.load_order(conn, out_trade_no)
    if row is not None and row["fingerprint"] != print_:
        raise WechatApiError(400, "INVALID_REQUEST", "参数与首次请求时不一致", rid_code=RID_PARAMS_DIFFER)
    return row


def _refuse_finished(row: sqlite3.Row) -> None:
    state = row["trade_state"]
    if state in ("SUCCESS", "REFUND"):
        raise WechatApiError(400, "ORDERPAID", "该订单已支付")
    if state == "CLOSED":
        raise WechatApiError(400, "ORDER_CLOSED", "订单已关闭")
    if state == "REVOKED":
        raise WechatApiError(400, "ORDERREVERSED", "订单已撤销")


def create_native(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str) -> dict[str, Any]:
    """Native prepay → {"code_url"}. Same out_trade_no with identical params → the same code_url."""
    token = _create_prepay(ctx, data, auth_mchid, "NATIVE")
    return {"code_url": CODE_URL_PREFIX + token}


def create_jsapi(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str) -> dict[str, Any]:
    """JSAPI prepay (jsapi spec §3) → {"prepay_id"}: ``wx`` + 34 characters, valid 2 h.

    The payer's openid must have been issued under the order's appid (OAuth of the same official
    account). Re-posting the identical body answers the current prepay id, or a fresh one once the
    last is 2 h old; the order itself never changes.
    """
    check_merchant(ctx, data, auth_mchid)
    payer = obj(data, "payer", required=False) or {}
    openid = payer.get("openid")
    if not isinstance(openid, str) or not openid:
        raise WechatApiError(400, "PARAM_ERROR", "JSAPI支付必须传openid", rid_code=RID_JSAPI_NO_OPENID)
    with ctx.store.transaction() as conn:
        owner = web_store.openid_owner(conn, openid)
    # An openid this sandbox never issued may belong to a real follower (the official signing example
    # carries one): it is accepted if well formed, and no simulated phone will ever match it.
    if owner is None and not OPENID_FORM.fullmatch(openid):
        raise param_error("payer.openid", "无效的openid", value=openid)
    if owner is not None and owner[0] != data.get("appid"):
        raise WechatApiError(400, "PARAM_ERROR", "appid和openid不匹配")
    token = _create_prepay(ctx, data, auth_mchid, "JSAPI", payer_openid=openid)
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        latest = web_store.latest_prepay(conn, data["out_trade_no"])
        if latest is not None and now - latest["created_at"] < PREPAY_TTL_S:
            return {"prepay_id": str(latest["prepay_id"])}
        prepay_id = "wx" + token if latest is None else new_prepay_id(china_stamp(now))
        web_store.insert_prepay(conn, prepay_id=prepay_id, out_trade_no=data["out_trade_no"], created_at=now)
    return {"prepay_id": prepay_id}


def _create_prepay(
    ctx: SandboxContext, data: dict[str, Any], auth_mchid: str, trade_type: str, *, payer_openid: str | None = None
) -> str:
    now = ctx.now(GATEWAY)
    fields = order_fields(ctx, data, auth_mchid)
    notify_url = text(data, "notify_url", max_len=255)
    check_notify_url(notify_url, "notify_url")
    expire_text = text(data, "time_expire", required=False)
    time_expire = now + DEFAULT_ORDER_LIFE_S
    if expire_text is not None:
        time_expire = parse_time(expire_text, "time_expire")
        if time_expire < now + TIME_EXPIRE_MIN_S - TIME_EXPIRE_GRACE_S or time_expire > now + MAX_TIME_EXPIRE_S:
            raise param_error("time_expire", "must be between 1 minute and 90 days from now", value=expire_text)
    print_ = fingerprint(trade_type, data)
    with ctx.store.transaction() as conn:
        row = _existing(conn, fields.out_trade_no, print_)
        if row is not None:
            row = _settle_order(ctx, conn, row, now)
            _refuse_finished(row)
            return str(row["code_token"])
        token = new_code_token(trade_type) if trade_type == "NATIVE" else new_prepay_id(china_stamp(now))[2:]
        store.insert_order(
            conn,
            store.NewOrder(
                out_trade_no=fields.out_trade_no,
                mchid=auth_mchid,
                appid=data["appid"],
                trade_type=trade_type,
                trade_state="NOTPAY",
                description=fields.description,
                attach=fields.attach,
                total=fields.total,
                currency=fields.currency,
                fingerprint=print_,
                device_id=fields.device_id,
                created_at=now,
                notify_url=notify_url,
                code_token=token,
                time_expire=time_expire,
                pending_openid=payer_openid,
            ),
        )
    return token


def create_codepay(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str) -> tuple[int, dict[str, Any]]:
    """Codepay (付款码) → (200, transaction) | (202, {"trade_state": "USERPAYING"}) or an error."""
    now = ctx.now(GATEWAY)
    fields = order_fields(ctx, data, auth_mchid)
    payer = required_obj(data, "payer")
    auth_code = required_text(payer, "auth_code", where="payer.")
    scene = required_obj(data, "scene_info")
    required_obj(scene, "store_info", where="scene_info.")
    otn = fields.out_trade_no
    print_ = fingerprint("codepay", data)
    with ctx.store.transaction() as conn:
        row = _existing(conn, otn, print_)
        if row is not None:
            return _codepay_answer(_settle_order(ctx, conn, row, now))
        scenario = consume_auth_code(ctx.store, GATEWAY, auth_code, out_trade_no=otn, now=now)
        if scenario is AuthCodeRejection.UNKNOWN:
            raise WechatApiError(400, "AUTH_CODE_INVALID", "付款码无效，请重新扫码")
        if scenario is AuthCodeRejection.EXPIRED:
            raise WechatApiError(403, "AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试")
        if scenario is AuthCodeRejection.ALREADY_USED:
            raise WechatApiError(403, "AUTH_CODE_ERROR", "付款码已使用，请用户刷新付款码")
        store.insert_order(
            conn,
            store.NewOrder(
                out_trade_no=otn,
                mchid=auth_mchid,
                appid=data["appid"],
                trade_type="MICROPAY",
                trade_state="USERPAYING",
                description=fields.description,
                attach=fields.attach,
                total=fields.total,
                currency=fields.currency,
                fingerprint=print_,
                device_id=fields.device_id,
                created_at=now,
                pending_openid=scenario.buyer_id,
            ),
        )
        if scenario.balance_fen is not None and scenario.balance_fen < fields.total:
            store.set_payerror(
                conn,
                otn,
                "用户余额不足",
                error_code="NOTENOUGH",
                error_status=403,
                error_message="用户余额不足，请更换支付方式",
            )
        elif scenario.password_seconds > 0 or scenario.user_cancels:
            wait = scenario.password_seconds or CANCEL_PASSWORD_DEFAULT_S
            state, desc = ("PAYERROR", "用户取消支付") if scenario.user_cancels else ("SUCCESS", "")
            store.set_password_wait(conn, otn, ready_at=now + wait, ready_state=state, ready_desc=desc)
        else:
            _mark_paid(ctx, conn, otn, when=now, openid=scenario.buyer_id)
        row = _reload(conn, otn)
    return _codepay_answer(row)


def _codepay_answer(row: sqlite3.Row) -> tuple[int, dict[str, Any]]:
    state = row["trade_state"]
    if state == "USERPAYING":
        return 202, {"trade_state": "USERPAYING"}
    if state == "PAYERROR":
        if row["error_code"]:
            raise WechatApiError(row["error_status"] or 403, row["error_code"], row["error_message"] or "支付失败")
        raise WechatApiError(403, "PAYERROR", row["trade_state_desc"] or "支付失败")
    if state in ("CLOSED", "REVOKED"):
        _refuse_finished(row)
    return 200, transaction_view(row)


# ---- close / reverse ------------------------------------------------------------------------------


def close_order(ctx: SandboxContext, out_trade_no: str, data: dict[str, Any], auth_mchid: str) -> None:
    check_merchant(ctx, data, auth_mchid, appid=False)
    row = load_order(ctx, out_trade_no=out_trade_no)
    with ctx.store.transaction() as conn:
        if row["trade_type"] == "MICROPAY":
            raise WechatApiError(
                400, "INVALID_REQUEST", "付款码订单不支持关单，请调用撤销接口", rid_code=RID_CODEPAY_CLOSE
            )
        if row["trade_state"] in ("SUCCESS", "REFUND"):
            raise WechatApiError(400, "ORDERPAID", "订单已支付，不能关闭")
        if row["trade_state"] == "NOTPAY":
            store.close_unpaid(conn, out_trade_no, ctx.now(GATEWAY))


def reverse_order(ctx: SandboxContext, out_trade_no: str, data: dict[str, Any], auth_mchid: str) -> dict[str, Any]:
    check_merchant(ctx, data, auth_mchid)
    now = ctx.now(GATEWAY)
    row = load_order(ctx, out_trade_no=out_trade_no)
    answer = {"appid": row["appid"], "mchid": row["mchid"], "out_trade_no": out_trade_no}
    state = row["trade_state"]
    if row["trade_type"] != "MICROPAY":
        raise WechatApiError(400, "INVALID_REQUEST", "只有付款码订单可以撤销，请调用关单接口")
    if state == "REVOKED":
        return answer
    if state == "USERPAYING" and now - row["created_at"] < USERPAYING_REVERSE_MIN_S:
        raise WechatApiError(403, "USERPAYING", "用户正在支付中，请稍后再撤销")
    if state == "REFUND":
        raise WechatApiError(403, "TRADE_ERROR", "订单已发生退款，不能撤销")
    if state == "SUCCESS" and now - row["success_time"] > REVERSE_WINDOW_S:
        raise WechatApiError(403, "REVERSE_EXPIRE", "订单已超过可撤销期限，请走退款流程")
    reversal_id = new_refund_id() if state == "SUCCESS" else None
    with ctx.store.transaction() as conn:
        store.set_revoked(conn, out_trade_no, when=now, reversal_id=reversal_id)
    return answer


# ---- refunds --------------------------------------------------------------------------------------


def create_refund(ctx: SandboxContext, data: dict[str, Any]) -> dict[str, Any]:
    now = ctx.now(GATEWAY)
    out_refund_no = check_out_refund_no(text(data, "out_refund_no"))
    transaction_id = text(data, "transaction_id", required=False, max_len=32)
    out_trade_no = text(data, "out_trade_no", required=False)
    if transaction_id is None and out_trade_no is None:
        raise param_error("out_trade_no", "transaction_id or out_trade_no is required")
    text(data, "reason", required=False, max_len=80)
    notify_url = text(data, "notify_url", required=False, max_len=255)
    check_notify_url(notify_url, "notify_url")
    funds_account = text(data, "funds_account", required=False)
    amount = required_obj(data, "amount")
    refund = fen(amount, "refund", where="amount.")
    total = fen(amount, "total", where="amount.")
    refund_currency = currency(amount, required=True)
    print_ = fingerprint("refund", data)
    with ctx.store.transaction() as conn:
        existing = store.load_refund(conn, out_refund_no)
        if existing is not None:
            if existing["fingerprint"] != print_:
                raise WechatApiError(400, "INVALID_REQUEST", "参数与首次请求时不一致", rid_code=RID_PARAMS_DIFFER)
            return refund_view(existing)
        if out_trade_no is not None:
            order = store.load_order(conn, out_trade_no)
            if order is not None and transaction_id is not None and order["transaction_id"] != transaction_id:
                raise WechatApiError(400, "INVALID_REQUEST", "transaction_id与out_trade_no不匹配")
        else:
            order = store.load_order_by_transaction_id(conn, transaction_id)
        if order is None:
            raise WechatApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        order = _settle_order(ctx, conn, order, now)
        if order["trade_state"] == "REVOKED":
            raise WechatApiError(400, "INVALID_REQUEST", "订单已撤销，不能退款")
        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            raise WechatApiError(404, "RESOURCE_NOT_EXISTS", "订单未支付，不能退款")
        if total != order["total"]:
            raise param_error("amount.total", "does not match the order amount", value=total)
        if now - order["success_time"] > REFUND_WINDOW_S:
            raise WechatApiError(400, "INVALID_REQUEST", "订单已超过可退款的最大期限(1年)")
        previous = store.refund_totals(conn, order["out_trade_no"])
        if previous.count >= MAX_REFUNDS:
            raise WechatApiError(400, "INVALID_REQUEST", f"订单退款次数已达上限({MAX_REFUNDS}次)")
        if previous.refunded_fen + refund > order["total"]:
            raise WechatApiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        if previous.last_create_time is not None and now - previous.last_create_time < REFUND_MIN_INTERVAL_S:
            raise WechatApiError(429, "FREQUENCY_LIMITED", "同一订单两次退款申请需间隔1分钟以上，请稍后再试")
        store.insert_refund(
            conn,
            store.NewRefund(
                out_refund_no=out_refund_no,
                refund_id=new_refund_id(),
                out_trade_no=order["out_trade_no"],
                transaction_id=order["transaction_id"],
                refund=refund,
                total=total,
                currency=refund_currency,
                reason=data.get("reason"),
                notify_url=notify_url,
                funds_account=funds_account,
                create_time=now,
                settle_at=now + REFUND_SETTLE_S,
                fingerprint=print_,
            ),
        )
        store.set_refunded(conn, order["out_trade_no"])
        row = store.load_refund(conn, out_refund_no)
        assert row is not None  # inserted just above, in this transaction
    return refund_view(row)


def load_refund(ctx: SandboxContext, out_refund_no: str) -> sqlite3.Row:
    """The refund (settled if it is due), or 404 RESOURCE_NOT_EXISTS."""
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        row = store.load_refund(conn, out_refund_no)
        if row is None:
            raise WechatApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        if row["status"] == "PROCESSING" and row["settle_at"] <= now:
            row = _settle_refund(ctx, conn, row)
        return row


# ---- the customer pays in the WeChat browser (JSAPI) ----------------------------------------------


def pay_jsapi_order(ctx: SandboxContext, out_trade_no: str, *, openid: str) -> sqlite3.Row:
    """The payer confirmed in the JSAPI sheet: SUCCESS now (TRANSACTION.SUCCESS queued) if still NOTPAY."""
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        row = store.load_order(conn, out_trade_no)
        if row is None:
            raise WechatApiError(404, "ORDER_NOT_EXIST", "订单不存在", rid_code=RID_ORDER_NOT_EXIST)
        row = _settle_order(ctx, conn, row, now)
        if row["trade_state"] != "NOTPAY":
            return row
        return _mark_paid(ctx, conn, out_trade_no, when=now, openid=openid)


# ---- the customer pays a native QR ----------------------------------------------------------------


def pay_native_qr(ctx: SandboxContext, qr: str, request: PayRequest) -> PayOutcome:
    """Wallet handler for ``weixin://wxpay/bizpayurl?pr=…``."""
    token = qr[len(CODE_URL_PREFIX) :]
    with ctx.store.transaction() as conn:
        row = store.load_native_order_by_code(conn, token)
        if row is None:
            raise UnknownQrCode("This WeChat Pay QR code belongs to no order of this sandbox.")
        otn = row["out_trade_no"]
        row = _settle_order(ctx, conn, row, request.now)

        def outcome(ok: bool, message: str, state: str | None = None) -> PayOutcome:
            return PayOutcome(
                ok=ok, gateway=GATEWAY, out_trade_no=otn, state=state or row["trade_state"], message=message
            )

        if row["trade_state"] in ("SUCCESS", "REFUND"):
            return outcome(False, "该订单已支付 (already paid)")
        if row["trade_state"] != "NOTPAY":
            return outcome(False, "订单已关闭 (order closed)")
        if request.now > row["time_expire"] or request.now > row["created_at"] + CODE_URL_TTL_S:
            return outcome(False, "二维码已过期 (QR code expired)")
        if request.fail is not None:
            return outcome(False, f"支付失败: {request.fail} (the order stays unpaid)")
        if row["pay_at"] is not None:
            return outcome(True, "已在支付中 (payment already on its way)")
        if request.pay_at > request.now:
            store.schedule_native_payment(conn, otn, pay_at=request.pay_at, openid=new_openid())
            return outcome(True, f"将在 {request.pay_at - request.now:g} 秒后支付 (paying shortly)")
        paid = _mark_paid(ctx, conn, otn, when=request.now, openid=new_openid())
        return outcome(True, "支付成功 (paid)", paid["trade_state"])


def open_native_qrs(ctx: SandboxContext) -> list[OpenQr]:
    """Unpaid, unexpired native orders with no payment on its way (for the wallet page)."""
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        rows = store.open_native_orders(conn, now=now, created_after=now - CODE_URL_TTL_S)
    return [
        OpenQr(
            gateway=GATEWAY,
            qr=CODE_URL_PREFIX + r["code_token"],
            out_trade_no=r["out_trade_no"],
            amount_fen=r["total"],
            description=r["description"],
        )
        for r in rows
    ]
