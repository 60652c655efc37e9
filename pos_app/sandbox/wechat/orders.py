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
- A native order past its ``time_expire`` (or its code_url past 2 h) cannot be paid; it stays NOTPAY
  until the merchant closes it.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import string
import uuid
from datetime import datetime
from typing import Any

from pos_app.engine.crypto.aead import encrypt_resource
from pos_app.sandbox.clock import rfc3339_china
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.wallet import (
    AuthCodeRejection,
    OpenQr,
    PayOutcome,
    PayRequest,
    UnknownQrCode,
    consume_auth_code,
)
from pos_app.sandbox.wechat.protocol import (
    RID_CODEPAY_CLOSE,
    RID_ORDER_NOT_EXIST,
    RID_PARAMS_DIFFER,
    WechatApiError,
    dump_json,
    param_error,
)

DDL = """
CREATE TABLE IF NOT EXISTS wechat_orders (
    out_trade_no TEXT PRIMARY KEY,
    mchid TEXT NOT NULL,
    appid TEXT NOT NULL,
    trade_type TEXT NOT NULL,
    trade_state TEXT NOT NULL,
    trade_state_desc TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    attach TEXT,
    notify_url TEXT,
    total INTEGER NOT NULL,
    currency TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    code_token TEXT UNIQUE,
    transaction_id TEXT UNIQUE,
    openid TEXT,
    bank_type TEXT,
    device_id TEXT,
    created_at REAL NOT NULL,
    time_expire REAL,
    success_time REAL,
    pay_at REAL,
    ready_at REAL,
    ready_state TEXT,
    ready_desc TEXT,
    pending_openid TEXT,
    error_code TEXT,
    error_status INTEGER,
    error_message TEXT,
    closed_at REAL,
    reversed_at REAL,
    reversal_id TEXT
);
CREATE TABLE IF NOT EXISTS wechat_refunds (
    out_refund_no TEXT PRIMARY KEY,
    refund_id TEXT NOT NULL UNIQUE,
    out_trade_no TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    refund INTEGER NOT NULL,
    total INTEGER NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT,
    notify_url TEXT,
    funds_account TEXT,
    status TEXT NOT NULL,
    create_time REAL NOT NULL,
    success_time REAL,
    settle_at REAL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS wechat_refunds_order ON wechat_refunds (out_trade_no);
CREATE TABLE IF NOT EXISTS wechat_bills (
    token TEXT PRIMARY KEY,
    bill_date TEXT NOT NULL,
    bill_type TEXT NOT NULL,
    gzip INTEGER NOT NULL,
    content BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
CODE_URL_PREFIX = "weixin://wxpay/bizpayurl?pr="
CODE_URL_TTL_S = 2 * 3600
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
BANK_TYPE = "OTHERS"

_DESC = {
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "REVOKED": "已撤销",
    "USERPAYING": "用户支付中（需要输入密码）",
}


# ---- identifiers ----------------------------------------------------------------------------------


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def new_transaction_id() -> str:
    return "4200" + _digits(24)


def new_refund_id() -> str:
    return "503" + _digits(26)


def new_openid() -> str:
    alphabet = string.ascii_letters + string.digits
    return "oSbx" + "".join(secrets.choice(alphabet) for _ in range(24))


# ---- request validation ---------------------------------------------------------------------------


def _text(
    data: dict[str, Any], name: str, *, max_len: int | None = None, required: bool = True, where: str = ""
) -> str | None:
    value = data.get(name)
    field = f"{where}{name}"
    if value is None:
        if required:
            raise param_error(field, "is required")
        return None
    if not isinstance(value, str):
        raise param_error(field, "must be a string", value=value)
    if required and not value:
        raise param_error(field, "must not be empty")
    if max_len is not None and len(value) > max_len:
        raise param_error(field, f"longer than {max_len} characters")
    return value


def _obj(data: dict[str, Any], name: str, *, required: bool = True, where: str = "") -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        if required:
            raise param_error(f"{where}{name}", "is required")
        return None
    if not isinstance(value, dict):
        raise param_error(f"{where}{name}", "must be an object")
    return value


def _int(data: dict[str, Any], name: str, *, where: str = "", minimum: int = 1) -> int:
    value = data.get(name)
    field = f"{where}{name}"
    if value is None:
        raise param_error(field, "is required")
    if not isinstance(value, int) or isinstance(value, bool):
        raise param_error(field, "must be an integer number of fen", value=value)
    if value < minimum:
        raise param_error(field, f"must be at least {minimum}", value=value)
    return value


def _currency(amount: dict[str, Any], *, required: bool = False) -> str:
    currency = _text(amount, "currency", required=required, where="amount.") or "CNY"
    if currency != "CNY":
        raise param_error("amount.currency", "only CNY is supported", value=currency)
    return currency


def _check_merchant(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str, *, appid: bool = True) -> None:
    mchid = _text(data, "mchid")
    if mchid != auth_mchid:
        raise param_error("mchid", "does not match the merchant of the request signature", value=mchid)
    if appid:
        value = _text(data, "appid")
        if value != ctx.keys.wechat.appid:
            raise WechatApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")


def _check_out_trade_no(value: str | None, field: str = "out_trade_no") -> str:
    if value is None or not OUT_TRADE_NO.fullmatch(value):
        raise param_error(field, "must be 6-32 characters of [0-9A-Za-z_-|*]", value=value)
    return value


def _check_notify_url(value: str | None, field: str) -> None:
    if value is None:
        return
    if not value.startswith(("https://", "http://")) or "?" in value:
        raise param_error(field, "must be an http(s) URL without a query string", value=value)


def _parse_time(value: str, field: str) -> float:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise param_error(field, "must be RFC 3339, e.g. 2024-01-01T12:00:00+08:00", value=value) from None
    if parsed.tzinfo is None:
        raise param_error(field, "must carry a UTC offset", value=value)
    return parsed.timestamp()


def fingerprint(operation: str, data: dict[str, Any]) -> str:
    return operation + ":" + json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# ---- views ----------------------------------------------------------------------------------------


def transaction_view(row: sqlite3.Row) -> dict[str, Any]:
    """The transaction object of the order query (and of TRANSACTION.SUCCESS)."""
    state = row["trade_state"]
    view: dict[str, Any] = {
        "appid": row["appid"],
        "mchid": row["mchid"],
        "out_trade_no": row["out_trade_no"],
        "trade_type": row["trade_type"],
        "trade_state": state,
        "trade_state_desc": row["trade_state_desc"] or _DESC.get(state, ""),
        "attach": row["attach"] or "",
        "amount": {"total": row["total"], "currency": row["currency"]},
    }
    if row["transaction_id"]:
        view.update(
            {
                "transaction_id": row["transaction_id"],
                "bank_type": row["bank_type"] or BANK_TYPE,
                "success_time": rfc3339_china(row["success_time"]),
                "payer": {"openid": row["openid"]},
                "promotion_detail": [],
            }
        )
        view["amount"].update({"payer_total": row["total"], "payer_currency": row["currency"]})
    if row["device_id"]:
        view["scene_info"] = {"device_id": row["device_id"]}
    return view


def refund_view(row: sqlite3.Row) -> dict[str, Any]:
    view: dict[str, Any] = {
        "refund_id": row["refund_id"],
        "out_refund_no": row["out_refund_no"],
        "transaction_id": row["transaction_id"],
        "out_trade_no": row["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339_china(row["create_time"]),
        "status": row["status"],
        "funds_account": row["funds_account"] or "AVAILABLE",
        "amount": {
            "total": row["total"],
            "refund": row["refund"],
            "from": [],
            "payer_total": row["total"],
            "payer_refund": row["refund"],
            "settlement_refund": row["refund"],
            "settlement_total": row["total"],
            "discount_refund": 0,
            "currency": row["currency"],
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if row["success_time"] is not None:
        view["success_time"] = rfc3339_china(row["success_time"])
    return view


# ---- notifications --------------------------------------------------------------------------------


def _enqueue_event(
    ctx: SandboxContext,
    *,
    url: str,
    event_type: str,
    summary: str,
    original_type: str,
    plaintext: dict[str, Any],
    out_trade_no: str,
) -> None:
    now = ctx.now("wechat")
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": rfc3339_china(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": encrypt_resource(ctx.keys.wechat.apiv3_key, nonce, original_type, dump_json(plaintext)),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    body = dump_json(envelope)
    if ctx.settings.sandbox.signtest_probes:
        sent = ctx.store.query_one("SELECT COUNT(*) AS n FROM notifications WHERE gateway = 'wechat'")
        if sent is not None and sent["n"] % 5 == 0:
            ctx.notifier.enqueue(
                gateway="wechat", url=url, body=body, event=event_type, out_trade_no=out_trade_no, probe=True
            )
    ctx.notifier.enqueue(gateway="wechat", url=url, body=body, event=event_type, out_trade_no=out_trade_no)


def _notify_paid(ctx: SandboxContext, row: sqlite3.Row) -> None:
    if row["trade_type"] == "NATIVE" and row["notify_url"]:
        _enqueue_event(
            ctx,
            url=row["notify_url"],
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            original_type="transaction",
            plaintext=transaction_view(row),
            out_trade_no=row["out_trade_no"],
        )


def _notify_refund(ctx: SandboxContext, refund: sqlite3.Row) -> None:
    if not refund["notify_url"]:
        return
    plaintext = {
        "mchid": ctx.keys.wechat.mchid,
        "out_trade_no": refund["out_trade_no"],
        "transaction_id": refund["transaction_id"],
        "out_refund_no": refund["out_refund_no"],
        "refund_id": refund["refund_id"],
        "refund_status": refund["status"],
        "success_time": rfc3339_china(refund["success_time"]),
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": refund["total"],
            "refund": refund["refund"],
            "payer_total": refund["total"],
            "payer_refund": refund["refund"],
        },
    }
    _enqueue_event(
        ctx,
        url=refund["notify_url"],
        event_type=f"REFUND.{refund['status']}",
        summary="退款成功",
        original_type="refund",
        plaintext=plaintext,
        out_trade_no=refund["out_trade_no"],
    )


# ---- state changes that come due with time --------------------------------------------------------


def _order(conn: sqlite3.Connection, out_trade_no: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM wechat_orders WHERE out_trade_no = ?", (out_trade_no,)
    ).fetchone()
    return row


def _mark_paid(
    ctx: SandboxContext, conn: sqlite3.Connection, out_trade_no: str, *, when: float, openid: str
) -> sqlite3.Row:
    conn.execute(
        "UPDATE wechat_orders SET trade_state = 'SUCCESS', trade_state_desc = '', transaction_id = ?,"
        " openid = ?, bank_type = ?, success_time = ?, pay_at = NULL, ready_at = NULL WHERE out_trade_no = ?",
        (new_transaction_id(), openid, BANK_TYPE, when, out_trade_no),
    )
    row = _order(conn, out_trade_no)
    assert row is not None
    _notify_paid(ctx, row)
    return row


def _settle_order(ctx: SandboxContext, conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> sqlite3.Row:
    """Apply what is due on one order (scheduled native payment, end of a password wait)."""
    otn = row["out_trade_no"]
    if row["trade_state"] == "NOTPAY" and row["pay_at"] is not None and row["pay_at"] <= now:
        return _mark_paid(ctx, conn, otn, when=row["pay_at"], openid=row["pending_openid"] or new_openid())
    if row["trade_state"] == "USERPAYING" and row["ready_at"] is not None and row["ready_at"] <= now:
        if row["ready_state"] == "SUCCESS":
            return _mark_paid(ctx, conn, otn, when=row["ready_at"], openid=row["pending_openid"] or new_openid())
        conn.execute(
            "UPDATE wechat_orders SET trade_state = 'PAYERROR', trade_state_desc = ?, ready_at = NULL"
            " WHERE out_trade_no = ?",
            (row["ready_desc"] or "支付失败", otn),
        )
        settled = _order(conn, otn)
        assert settled is not None
        return settled
    return row


def settle_due(ctx: SandboxContext) -> None:
    """The WeChat ticker: complete due payments and password waits; settle due refunds."""
    now = ctx.now("wechat")
    with ctx.store.transaction() as conn:
        rows = conn.execute(
            "SELECT * FROM wechat_orders WHERE (trade_state = 'NOTPAY' AND pay_at <= ?)"
            " OR (trade_state = 'USERPAYING' AND ready_at <= ?)",
            (now, now),
        ).fetchall()
        for row in rows:
            _settle_order(ctx, conn, row, now)
        refunds = conn.execute(
            "SELECT * FROM wechat_refunds WHERE status = 'PROCESSING' AND settle_at <= ?", (now,)
        ).fetchall()
        for refund in refunds:
            _settle_refund(ctx, conn, refund)


def _settle_refund(ctx: SandboxContext, conn: sqlite3.Connection, refund: sqlite3.Row) -> sqlite3.Row:
    conn.execute(
        "UPDATE wechat_refunds SET status = 'SUCCESS', success_time = settle_at WHERE out_refund_no = ?",
        (refund["out_refund_no"],),
    )
    settled = conn.execute(
        "SELECT * FROM wechat_refunds WHERE out_refund_no = ?", (refund["out_refund_no"],)
    ).fetchone()
    _notify_refund(ctx, settled)
    return settled  # type: ignore[no-any-return]


def load_order(
    ctx: SandboxContext, *, out_trade_no: str | None = None, transaction_id: str | None = None
) -> sqlite3.Row:
    """The order (after applying what is due), or 404 ORDER_NOT_EXIST."""
    now = ctx.now("wechat")
    with ctx.store.transaction() as conn:
        if out_trade_no is not None:
            row = _order(conn, out_trade_no)
        else:
            row = conn.execute("SELECT * FROM wechat_orders WHERE transaction_id = ?", (transaction_id,)).fetchone()
        if row is None:
            raise WechatApiError(404, "ORDER_NOT_EXIST", "订单不存在", rid_code=RID_ORDER_NOT_EXIST)
        return _settle_order(ctx, conn, row, now)


# ---- prepay ---------------------------------------------------------------------------------------


def _common_order_fields(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str) -> dict[str, Any]:
    _check_merchant(ctx, data, auth_mchid)
    description = _text(data, "description", max_len=127)
    out_trade_no = _check_out_trade_no(_text(data, "out_trade_no"))
    attach = _text(data, "attach", max_len=128, required=False)
    amount = _obj(data, "amount")
    assert amount is not None
    total = _int(amount, "total", where="amount.")
    currency = _currency(amount)
    scene = _obj(data, "scene_info", required=False) or {}
    device_id = scene.get("device_id") if isinstance(scene.get("device_id"), str) else None
    return {
        "description": description,
        "out_trade_no": out_trade_no,
        "attach": attach,
        "total": total,
        "currency": currency,
        "device_id": device_id,
    }


def _existing(conn: sqlite3.Connection, out_trade_no: str, print_: str) -> sqlite3.Row | None:
    row = _order(conn, out_trade_no)
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
    """JSAPI prepay → {"prepay_id"} (not an in-store flow; here so the official signing example runs)."""
    payer = _obj(data, "payer")
    assert payer is not None
    _text(payer, "openid", where="payer.")
    return {"prepay_id": "wx" + _create_prepay(ctx, data, auth_mchid, "JSAPI")}


def _create_prepay(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str, trade_type: str) -> str:
    now = ctx.now("wechat")
    fields = _common_order_fields(ctx, data, auth_mchid)
    notify_url = _text(data, "notify_url", max_len=255)
    _check_notify_url(notify_url, "notify_url")
    expire_text = _text(data, "time_expire", required=False)
    time_expire = now + DEFAULT_ORDER_LIFE_S
    if expire_text is not None:
        time_expire = _parse_time(expire_text, "time_expire")
        if time_expire < now + TIME_EXPIRE_MIN_S - TIME_EXPIRE_GRACE_S or time_expire > now + MAX_TIME_EXPIRE_S:
            raise param_error("time_expire", "must be between 1 minute and 90 days from now", value=expire_text)
    print_ = fingerprint(trade_type, data)
    with ctx.store.transaction() as conn:
        row = _existing(conn, fields["out_trade_no"], print_)
        if row is not None:
            row = _settle_order(ctx, conn, row, now)
            _refuse_finished(row)
            return str(row["code_token"])
        alphabet = string.ascii_letters + string.digits
        token = "".join(secrets.choice(alphabet) for _ in range(12 if trade_type == "NATIVE" else 30))
        conn.execute(
            "INSERT INTO wechat_orders (out_trade_no, mchid, appid, trade_type, trade_state, description, attach,"
            " notify_url, total, currency, fingerprint, code_token, device_id, created_at, time_expire)"
            " VALUES (?, ?, ?, ?, 'NOTPAY', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fields["out_trade_no"],
                auth_mchid,
                data["appid"],
                trade_type,
                fields["description"],
                fields["attach"],
                notify_url,
                fields["total"],
                fields["currency"],
                print_,
                token,
                fields["device_id"],
                now,
                time_expire,
            ),
        )
    return token


def create_codepay(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str) -> tuple[int, dict[str, Any]]:
    """Codepay (付款码) → (200, transaction) | (202, {"trade_state": "USERPAYING"}) or an error."""
    now = ctx.now("wechat")
    fields = _common_order_fields(ctx, data, auth_mchid)
    payer = _obj(data, "payer")
    assert payer is not None
    auth_code = _text(payer, "auth_code", where="payer.")
    assert auth_code is not None
    scene = _obj(data, "scene_info")
    assert scene is not None
    _obj(scene, "store_info", where="scene_info.")
    otn = fields["out_trade_no"]
    print_ = fingerprint("codepay", data)
    with ctx.store.transaction() as conn:
        row = _existing(conn, otn, print_)
        if row is not None:
            return _codepay_answer(_settle_order(ctx, conn, row, now))
        scenario = consume_auth_code(ctx.store, "wechat", auth_code, out_trade_no=otn, now=now)
        if scenario is AuthCodeRejection.UNKNOWN:
            raise WechatApiError(400, "AUTH_CODE_INVALID", "付款码无效，请重新扫码")
        if scenario is AuthCodeRejection.EXPIRED:
            raise WechatApiError(403, "AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试")
        if scenario is AuthCodeRejection.ALREADY_USED:
            raise WechatApiError(403, "AUTH_CODE_ERROR", "付款码已使用，请用户刷新付款码")
        assert not isinstance(scenario, AuthCodeRejection)
        conn.execute(
            "INSERT INTO wechat_orders (out_trade_no, mchid, appid, trade_type, trade_state, description, attach,"
            " total, currency, fingerprint, device_id, created_at, pending_openid)"
            " VALUES (?, ?, ?, 'MICROPAY', 'USERPAYING', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                otn,
                auth_mchid,
                data["appid"],
                fields["description"],
                fields["attach"],
                fields["total"],
                fields["currency"],
                print_,
                fields["device_id"],
                now,
                scenario.buyer_id,
            ),
        )
        if scenario.balance_fen is not None and scenario.balance_fen < fields["total"]:
            conn.execute(
                "UPDATE wechat_orders SET trade_state = 'PAYERROR', trade_state_desc = '用户余额不足',"
                " error_code = 'NOTENOUGH', error_status = 403, error_message = '用户余额不足，请更换支付方式'"
                " WHERE out_trade_no = ?",
                (otn,),
            )
        elif scenario.password_seconds > 0 or scenario.user_cancels:
            wait = scenario.password_seconds or CANCEL_PASSWORD_DEFAULT_S
            outcome = ("PAYERROR", "用户取消支付") if scenario.user_cancels else ("SUCCESS", "")
            conn.execute(
                "UPDATE wechat_orders SET ready_at = ?, ready_state = ?, ready_desc = ? WHERE out_trade_no = ?",
                (now + wait, outcome[0], outcome[1], otn),
            )
        else:
            _mark_paid(ctx, conn, otn, when=now, openid=scenario.buyer_id)
        row = _order(conn, otn)
        assert row is not None
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
    _check_merchant(ctx, data, auth_mchid, appid=False)
    row = load_order(ctx, out_trade_no=out_trade_no)
    with ctx.store.transaction() as conn:
        if row["trade_type"] == "MICROPAY":
            raise WechatApiError(
                400, "INVALID_REQUEST", "付款码订单不支持关单，请调用撤销接口", rid_code=RID_CODEPAY_CLOSE
            )
        if row["trade_state"] in ("SUCCESS", "REFUND"):
            raise WechatApiError(400, "ORDERPAID", "订单已支付，不能关闭")
        if row["trade_state"] == "NOTPAY":
            conn.execute(
                "UPDATE wechat_orders SET trade_state = 'CLOSED', closed_at = ?, pay_at = NULL"
                " WHERE out_trade_no = ? AND trade_state = 'NOTPAY'",
                (ctx.now("wechat"), out_trade_no),
            )


def reverse_order(ctx: SandboxContext, out_trade_no: str, data: dict[str, Any], auth_mchid: str) -> dict[str, Any]:
    _check_merchant(ctx, data, auth_mchid)
    now = ctx.now("wechat")
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
        conn.execute(
            "UPDATE wechat_orders SET trade_state = 'REVOKED', trade_state_desc = '', reversed_at = ?,"
            " reversal_id = ?, ready_at = NULL WHERE out_trade_no = ?",
            (now, reversal_id, out_trade_no),
        )
    return answer


# ---- refunds --------------------------------------------------------------------------------------


def create_refund(ctx: SandboxContext, data: dict[str, Any]) -> dict[str, Any]:
    now = ctx.now("wechat")
    out_refund_no = _text(data, "out_refund_no")
    if out_refund_no is None or not OUT_REFUND_NO.fullmatch(out_refund_no):
        raise param_error("out_refund_no", "must be 1-64 characters of [0-9A-Za-z_-|*@]", value=out_refund_no)
    transaction_id = _text(data, "transaction_id", required=False, max_len=32)
    out_trade_no = _text(data, "out_trade_no", required=False)
    if transaction_id is None and out_trade_no is None:
        raise param_error("out_trade_no", "transaction_id or out_trade_no is required")
    _text(data, "reason", required=False, max_len=80)
    notify_url = _text(data, "notify_url", required=False, max_len=255)
    _check_notify_url(notify_url, "notify_url")
    funds_account = _text(data, "funds_account", required=False)
    amount = _obj(data, "amount")
    assert amount is not None
    refund = _int(amount, "refund", where="amount.")
    total = _int(amount, "total", where="amount.")
    currency = _currency(amount, required=True)
    print_ = fingerprint("refund", data)
    with ctx.store.transaction() as conn:
        existing = conn.execute("SELECT * FROM wechat_refunds WHERE out_refund_no = ?", (out_refund_no,)).fetchone()
        if existing is not None:
            if existing["fingerprint"] != print_:
                raise WechatApiError(400, "INVALID_REQUEST", "参数与首次请求时不一致", rid_code=RID_PARAMS_DIFFER)
            return refund_view(existing)
        if out_trade_no is not None:
            order = _order(conn, out_trade_no)
            if order is not None and transaction_id is not None and order["transaction_id"] != transaction_id:
                raise WechatApiError(400, "INVALID_REQUEST", "transaction_id与out_trade_no不匹配")
        else:
            order = conn.execute("SELECT * FROM wechat_orders WHERE transaction_id = ?", (transaction_id,)).fetchone()
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
        previous = conn.execute(
            "SELECT COUNT(*) AS n, COALESCE(SUM(refund), 0) AS s, MAX(create_time) AS last FROM wechat_refunds"
            " WHERE out_trade_no = ? AND status NOT IN ('CLOSED', 'ABNORMAL')",
            (order["out_trade_no"],),
        ).fetchone()
        if previous["n"] >= MAX_REFUNDS:
            raise WechatApiError(400, "INVALID_REQUEST", f"订单退款次数已达上限({MAX_REFUNDS}次)")
        if previous["s"] + refund > order["total"]:
            raise WechatApiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        if previous["last"] is not None and now - previous["last"] < REFUND_MIN_INTERVAL_S:
            raise WechatApiError(429, "FREQUENCY_LIMITED", "同一订单两次退款申请需间隔1分钟以上，请稍后再试")
        conn.execute(
            "INSERT INTO wechat_refunds (out_refund_no, refund_id, out_trade_no, transaction_id, refund, total,"
            " currency, reason, notify_url, funds_account, status, create_time, settle_at, fingerprint)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PROCESSING', ?, ?, ?)",
            (
                out_refund_no,
                new_refund_id(),
                order["out_trade_no"],
                order["transaction_id"],
                refund,
                total,
                currency,
                data.get("reason"),
                notify_url,
                funds_account,
                now,
                now + REFUND_SETTLE_S,
                print_,
            ),
        )
        conn.execute("UPDATE wechat_orders SET trade_state = 'REFUND' WHERE out_trade_no = ?", (order["out_trade_no"],))
        row = conn.execute("SELECT * FROM wechat_refunds WHERE out_refund_no = ?", (out_refund_no,)).fetchone()
    return refund_view(row)


def load_refund(ctx: SandboxContext, out_refund_no: str) -> sqlite3.Row:
    now = ctx.now("wechat")
    with ctx.store.transaction() as conn:
        row = conn.execute("SELECT * FROM wechat_refunds WHERE out_refund_no = ?", (out_refund_no,)).fetchone()
        if row is None:
            raise WechatApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        if row["status"] == "PROCESSING" and row["settle_at"] <= now:
            row = _settle_refund(ctx, conn, row)
        return row  # type: ignore[no-any-return]


# ---- the customer pays a native QR ----------------------------------------------------------------


def pay_native_qr(ctx: SandboxContext, qr: str, request: PayRequest) -> PayOutcome:
    """Wallet handler for ``weixin://wxpay/bizpayurl?pr=…``."""
    token = qr[len(CODE_URL_PREFIX) :]
    with ctx.store.transaction() as conn:
        row = conn.execute(
            "SELECT * FROM wechat_orders WHERE code_token = ? AND trade_type = 'NATIVE'", (token,)
        ).fetchone()
        if row is None:
            raise UnknownQrCode("This WeChat Pay QR code belongs to no order of this sandbox.")
        otn = row["out_trade_no"]
        row = _settle_order(ctx, conn, row, request.now)

        def outcome(ok: bool, message: str, state: str | None = None) -> PayOutcome:
            return PayOutcome(
                ok=ok, gateway="wechat", out_trade_no=otn, state=state or row["trade_state"], message=message
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
            conn.execute(
                "UPDATE wechat_orders SET pay_at = ?, pending_openid = ? WHERE out_trade_no = ?",
                (request.pay_at, new_openid(), otn),
            )
            return outcome(True, f"将在 {request.pay_at - request.now:g} 秒后支付 (paying shortly)")
        paid = _mark_paid(ctx, conn, otn, when=request.now, openid=new_openid())
        return outcome(True, "支付成功 (paid)", paid["trade_state"])


def open_native_qrs(ctx: SandboxContext) -> list[OpenQr]:
    """Unpaid, unexpired native orders with no payment on its way (for the wallet page)."""
    now = ctx.now("wechat")
    rows = ctx.store.query(
        "SELECT * FROM wechat_orders WHERE trade_type = 'NATIVE' AND trade_state = 'NOTPAY' AND pay_at IS NULL"
        " AND time_expire > ? AND created_at > ? ORDER BY created_at DESC LIMIT 20",
        (now, now - CODE_URL_TTL_S),
    )
    return [
        OpenQr(
            gateway="wechat",
            qr=CODE_URL_PREFIX + r["code_token"],
            out_trade_no=r["out_trade_no"],
            amount_fen=r["total"],
            description=r["description"],
        )
        for r in rows
    ]
