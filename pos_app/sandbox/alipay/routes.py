"""The simulated Alipay OpenAPI gateway: ``gateway.do`` and the bill download (spec alipay-f2f.md).

Request handling, in order: merge query-string and form params (decoded in the request's
``charset``), check the common params, verify the RSA2 signature over the received values, apply
request faults, then run the method's rule (:mod:`.rules`) in one store transaction that also queues
the notifications it owes. Replies are signed as their exact raw text (:func:`.signing.envelope`).

Importing this module registers the Alipay ticker (time-driven changes), the notification
preparer (fresh ``notify_time`` and signature per attempt) and the ``https://qr.alipay.com/`` wallet
handler (``pos sandbox pay <qr_code>``).
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from pos_app.domain.china_time import CHINA_TZ, in_china
from pos_app.domain.routing import mask_code
from pos_app.engine.crypto.rsa import SignatureInvalid
from pos_app.sandbox.alipay import bill, oauth, rules
from pos_app.sandbox.alipay import store as db
from pos_app.sandbox.alipay.model import TIME_FORMAT, Notice, Pending, Reply, Trade, parse_yuan
from pos_app.sandbox.alipay.notify import CONTENT_TYPE, notification_params, resign, signed_body
from pos_app.sandbox.alipay.signing import (
    envelope,
    python_charset,
    request_sign_content,
    response_key,
    response_text,
    verify_request,
)
from pos_app.sandbox.context import SandboxContext, get_ctx, register_preparer, register_ticker
from pos_app.sandbox.faults import Fault
from pos_app.sandbox.notifier import NotificationRecord, Preparer
from pos_app.sandbox.store import SandboxStore
from pos_app.sandbox.wallet import (
    AuthCodeRejection,
    PayOutcome,
    PayRequest,
    UnknownQrCode,
    consume_auth_code,
    register_native_handler,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["alipay"])
Ctx = Annotated[SandboxContext, Depends(get_ctx)]

GATEWAY = "alipay"
QR_PREFIX = "https://qr.alipay.com/"
BILL_PATH = "/alipay/downloadBillFile.resource"
BILL_URL_TTL_S = 30.0
#: How far a request timestamp may stray from the gateway clock. Alipay's real window is unconfirmed,
#: so it is enforced only while a clock-skew fault is active (tests move the sandbox clock freely).
TIMESTAMP_WINDOW_S = 15 * 60
#: A buyer who cancels at the password prompt still looks at it a moment (as the WeChat simulator does).
CANCEL_PASSWORD_DEFAULT_S = 5.0
INVALID_SIGNATURE_MSG = "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："


def _now(ctx: SandboxContext) -> datetime:
    return datetime.fromtimestamp(ctx.now(GATEWAY), CHINA_TZ)


_SCHEMA_READY: weakref.WeakSet[SandboxStore] = weakref.WeakSet()


def ensure_schema(ctx: SandboxContext) -> None:
    """Create the Alipay tables once per store (idempotent DDL; cheap guard for every request)."""
    if ctx.store not in _SCHEMA_READY:
        ctx.store.ensure_schema(db.ALIPAY_DDL)
        ctx.store.ensure_schema(oauth.ALIPAY_WEB_DDL)
        with ctx.store.transaction() as conn:
            db.add_missing_columns(conn)
        _SCHEMA_READY.add(ctx.store)


# --- reply building -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    key: str  # "<method>_response" or "error_response"
    reply: Reply
    signed: bool = True


def _render(ctx: SandboxContext, answer: Answer, charset: str = "utf-8") -> Response:
    """The reply in the request's charset (UTF-8 when that charset was refused)."""
    codec = python_charset(charset) or "utf-8"
    key = ctx.keys.alipay.gateway_private_key if answer.signed else None
    text = envelope(answer.key, answer.reply.as_object(), key, codec)
    return Response(content=text.encode(codec, errors="replace"), media_type=f"application/json;charset={codec}")


def _common_error(method: str, code: str, sub_code: str, sub_msg: str) -> Answer:
    msg = {"40001": "Missing Required Arguments", "40002": "Invalid Arguments"}[code]
    return Answer(response_key(method), Reply(code, msg, sub_code, sub_msg))


# --- request parsing ----------------------------------------------------------------------------


def _merge_params(query: str, body: bytes, content_type: str) -> tuple[dict[str, str], str]:
    """Query and form params in one dict (the body wins), decoded in the request's charset."""
    raw_body = body.decode("latin-1") if "application/x-www-form-urlencoded" in content_type or not content_type else ""
    probe = dict(parse_qsl(query, keep_blank_values=True, encoding="latin-1"))
    probe.update(parse_qsl(raw_body, keep_blank_values=True, encoding="latin-1"))
    charset = probe.get("charset", "utf-8") or "utf-8"
    codec = python_charset(charset) or "utf-8"
    params = dict(parse_qsl(query, keep_blank_values=True, encoding=codec, errors="replace"))
    params.update(parse_qsl(raw_body, keep_blank_values=True, encoding=codec, errors="replace"))
    return params, charset


def _check_common(ctx: SandboxContext, params: Mapping[str, str], charset: str) -> Answer | None:
    method = params.get("method", "")
    if not method:
        return Answer(
            "error_response",
            Reply("40001", "Missing Required Arguments", "isv.missing-method", "缺少方法名参数"),
            signed=False,
        )
    if method not in METHODS and method not in RAW_METHODS:
        return Answer(
            "error_response",
            Reply("40002", "Invalid Arguments", "isv.invalid-method", "不存在的方法名"),
            signed=False,
        )
    if python_charset(charset) is None:
        return _common_error(method, "40002", "isv.invalid-charset", "字符集错误")
    app_id = params.get("app_id", "")
    if not app_id:
        return _common_error(method, "40001", "isv.missing-app-id", "缺少AppID参数")
    if app_id != ctx.keys.alipay.app_id:
        return _common_error(method, "40002", "isv.invalid-app-id", "无效的AppID参数")
    if not params.get("sign_type"):
        return _common_error(method, "40001", "isv.missing-signature-type", "缺少签名类型参数")
    if params["sign_type"] != "RSA2":
        return _common_error(method, "40002", "isv.invalid-signature-type", "无效的签名类型参数")
    if not params.get("sign"):
        return _common_error(method, "40001", "isv.missing-signature", "缺少签名参数")
    stamp = params.get("timestamp", "")
    if not stamp:
        return _common_error(method, "40001", "isv.missing-timestamp", "缺少时间戳参数")
    try:
        sent = datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=CHINA_TZ)
    except ValueError:
        return _common_error(method, "40002", "isv.invalid-timestamp", "非法的时间戳参数")
    if ctx.faults.skew_seconds(GATEWAY) and abs((sent - _now(ctx)).total_seconds()) > TIMESTAMP_WINDOW_S:
        return _common_error(method, "40002", "isv.invalid-timestamp", "非法的时间戳参数")
    if not params.get("version"):
        return _common_error(method, "40001", "isv.missing-version", "缺少版本参数")
    if params.get("encrypt_type"):
        return _common_error(method, "40002", "isv.invalid-encrypt-type", "加密类型错误（沙箱不支持内容加密）")
    try:
        verify_request(ctx.keys.alipay.app_public_key, params, charset)
    except SignatureInvalid:
        content = request_sign_content(params)
        return _common_error(method, "40002", "isv.invalid-signature", INVALID_SIGNATURE_MSG + content)
    return None


def _biz(params: Mapping[str, str]) -> dict[str, Any] | None:
    text = params.get("biz_content", "")
    if not text:
        return {}
    try:
        value = json.loads(text, parse_float=str, parse_int=str)  # amounts stay text, never floats
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --- faults -------------------------------------------------------------------------------------


def _fault_answer(method: str, fault: Fault, biz: Mapping[str, Any]) -> Answer | Response:
    """The gateway's own "system error" for a SERVER_ERROR fault (nothing was processed).

    ``status`` picks the form: 500 → 20000 ``isp.unknow-error``; 503 → 40004 ``ACQ.SYSTEM_ERROR``;
    502/504 → 20000 ``ACQ.SYSTEM_ERROR``; anything else → that HTTP status with no Alipay body.
    """
    fields: dict[str, object] = {}
    out_trade_no = str(biz.get("out_trade_no") or "")
    if method == "alipay.trade.pay":
        fields = rules.failed_trade_fields(out_trade_no)
    elif method == "alipay.trade.cancel":
        fields = {"out_trade_no": out_trade_no, "retry_flag": "Y"} if out_trade_no else {"retry_flag": "Y"}
    if fault.status == 500:
        reply = Reply("20000", "Service Currently Unavailable", "isp.unknow-error", "系统繁忙", fields)
    elif fault.status == 503:
        reply = Reply("40004", rules.BUSINESS_FAILED, "ACQ.SYSTEM_ERROR", "系统错误", fields)
    elif fault.status in (502, 504):
        reply = Reply("20000", "Service Currently Unavailable", "ACQ.SYSTEM_ERROR", "系统错误", fields)
    else:
        return PlainTextResponse("Service Unavailable", status_code=fault.status)
    return Answer(response_key(method), reply)


# --- notifications ------------------------------------------------------------------------------


def _queue_notices(ctx: SandboxContext, trade: Trade, notices: list[Notice], now: datetime) -> None:
    """Queue what the rule owes (only when the request named a notify_url: there is no app gateway)."""
    if not trade.notify_url:
        return
    for notice in notices:
        params = notification_params(
            trade, notice, now=now, app_id=ctx.keys.alipay.app_id, seller_id=ctx.keys.alipay.seller_id
        )
        event = notice.trade_status.value + (":refund" if notice.refund is not None else "")
        ctx.notifier.enqueue(
            gateway=GATEWAY,
            url=trade.notify_url,
            body=signed_body(params, ctx.keys.alipay.gateway_private_key),
            content_type=CONTENT_TYPE,
            event=event,
            out_trade_no=trade.out_trade_no,
        )


def _preparer(ctx: SandboxContext) -> Preparer:
    ensure_schema(ctx)  # create_app calls this factory once per context: a good moment for the tables

    def prepare(record: NotificationRecord, now: float) -> tuple[bytes, dict[str, str]]:
        return resign(record.body, ctx.keys.alipay.gateway_private_key, datetime.fromtimestamp(now, CHINA_TZ)), {}

    return prepare


def _load(conn: sqlite3.Connection, biz: Mapping[str, Any], now: datetime) -> tuple[Trade | None, list[Notice]]:
    """The trade a request names (trade_no wins), with time's effects applied."""
    trade = db.load_trade(
        conn, out_trade_no=str(biz.get("out_trade_no") or ""), trade_no=str(biz.get("trade_no") or "")
    )
    if trade is None:
        return None, []
    return trade, rules.settle(trade, now)


def apply_outcome(ctx: SandboxContext, conn: sqlite3.Connection, outcome: rules.Outcome, now: datetime) -> None:
    if outcome.trade is not None:
        db.save_trade(conn, outcome.trade)
    if outcome.refund is not None:
        db.insert_refund(conn, outcome.refund)
    if outcome.trade is not None and outcome.notices:
        _queue_notices(ctx, outcome.trade, outcome.notices, now)


def apply_settled(
    ctx: SandboxContext, conn: sqlite3.Connection, trade: Trade | None, notices: list[Notice], now: datetime
) -> None:
    """Persist what time changed before the rule ran (so its notification goes out too)."""
    if trade is not None and notices:
        db.save_trade(conn, trade)
        _queue_notices(ctx, trade, notices, now)


# --- methods ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One verified gateway request, as a method handler sees it."""

    biz: dict[str, Any]  # biz_content, numbers kept as their text
    params: dict[str, str]  # the merged common params
    now: datetime  # the gateway clock
    base_url: str  # where this sandbox is reached (bill links point back at it)


Handler = Callable[[SandboxContext, sqlite3.Connection, Call], Reply]


def _env(ctx: SandboxContext, call: Call) -> rules.Env:
    params, now = call.params, call.now
    return rules.Env(
        now=now,
        app_id=params.get("app_id", ""),
        notify_url=params.get("notify_url", ""),
        notify_wait_buyer_pay=ctx.settings.sandbox.alipay_notify_wait_buyer_pay,
    )


def _precreate(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    existing, notices = _load(conn, {"out_trade_no": biz.get("out_trade_no")}, now)
    apply_settled(ctx, conn, existing, notices, now)
    outcome = rules.precreate(existing, biz, _env(ctx, call))
    apply_outcome(ctx, conn, outcome, now)
    return outcome.reply


def _create(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    existing, notices = _load(conn, {"out_trade_no": biz.get("out_trade_no")}, now)
    apply_settled(ctx, conn, existing, notices, now)
    resolved = oauth.resolve_buyer(
        ctx,
        call.params.get("app_id", ""),
        buyer_id=str(biz.get("buyer_id") or ""),
        buyer_open_id=str(biz.get("buyer_open_id") or ""),
    )
    buyer = resolved if isinstance(resolved, str) else rules.CreateBuyer(resolved.user_id, resolved.open_id)
    outcome = rules.create(
        existing,
        biz,
        _env(ctx, call),
        buyer,
        require_jsapi_pay=ctx.settings.sandbox.alipay_require_jsapi_pay,
        seller_id=ctx.keys.alipay.seller_id,
    )
    apply_outcome(ctx, conn, outcome, now)
    return outcome.reply


def _oauth_token(ctx: SandboxContext, params: dict[str, str], charset: str) -> Response:
    """alipay.system.oauth.token: no code/msg on success; errors as a top-level error_response, sign ""."""
    result = oauth.exchange(ctx, params, _now(ctx))
    codec = python_charset(charset) or "utf-8"
    if isinstance(result, oauth.TokenError):
        error = Reply("40002", "Invalid Arguments", result.sub_code, result.sub_msg).as_object()
        text = f'{{"error_response":{response_text(error)},"sign":""}}'
    else:
        text = envelope(response_key("alipay.system.oauth.token"), result, ctx.keys.alipay.gateway_private_key, codec)
    return Response(content=text.encode(codec, errors="replace"), media_type=f"application/json;charset={codec}")


def _payer(ctx: SandboxContext, biz: Mapping[str, Any], now: datetime) -> rules.Payer:
    code = str(biz.get("auth_code") or "")
    total = parse_yuan(str(biz.get("total_amount") or "")) or 0
    scenario = consume_auth_code(
        ctx.store, "alipay", code, out_trade_no=str(biz.get("out_trade_no")), now=now.timestamp()
    )
    if isinstance(scenario, AuthCodeRejection):
        log.info("alipay pay: payment code %s refused (%s)", mask_code(code), scenario.value)
        return rules.Payer("invalid")
    if scenario.balance_fen is not None and scenario.balance_fen < total:
        return rules.Payer("balance", buyer_user_id=scenario.buyer_id)
    if scenario.password_seconds > 0 or scenario.user_cancels:
        pending = Pending.CANCEL if scenario.user_cancels else Pending.CONFIRM
        # The prompt starts with this pay call (a retry meanwhile answers 10003 without restarting it).
        wait = scenario.password_seconds or CANCEL_PASSWORD_DEFAULT_S
        return rules.Payer("pay", buyer_user_id=scenario.buyer_id, pending=pending, pending_for=timedelta(seconds=wait))
    return rules.Payer("pay", buyer_user_id=scenario.buyer_id)


def _pay(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    existing, notices = _load(conn, {"out_trade_no": biz.get("out_trade_no")}, now)
    apply_settled(ctx, conn, existing, notices, now)
    early = rules.check_pay(existing, biz)
    if early is not None:
        apply_outcome(ctx, conn, early, now)
        return early.reply
    outcome = rules.pay(existing, biz, _payer(ctx, biz, now), _env(ctx, call))
    apply_outcome(ctx, conn, outcome, now)
    return outcome.reply


def _query(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    trade, notices = _load(conn, biz, now)
    apply_settled(ctx, conn, trade, notices, now)
    return rules.query(trade, str(biz.get("out_trade_no") or "")).reply


def _cancel(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    trade, notices = _load(conn, biz, now)
    apply_settled(ctx, conn, trade, notices, now)
    outcome = rules.cancel(trade, str(biz.get("out_trade_no") or ""), bool(biz.get("trade_no")), now)
    apply_outcome(ctx, conn, outcome, now)
    return outcome.reply


def _close(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    trade, notices = _load(conn, biz, now)
    apply_settled(ctx, conn, trade, notices, now)
    outcome = rules.close(trade, now, str(biz.get("operator_id") or ""))
    apply_outcome(ctx, conn, outcome, now)
    return outcome.reply


def _refund(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    trade, notices = _load(conn, biz, now)
    apply_settled(ctx, conn, trade, notices, now)
    refunds = db.load_refunds(conn, trade.out_trade_no) if trade is not None else []
    outcome = rules.refund(trade, refunds, biz, now)
    apply_outcome(ctx, conn, outcome, now)
    return outcome.reply


def _refund_query(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    biz, now = call.biz, call.now
    trade, notices = _load(conn, biz, now)
    apply_settled(ctx, conn, trade, notices, now)
    refunds = db.load_refunds(conn, trade.out_trade_no) if trade is not None else []
    return rules.refund_query(trade, refunds, biz).reply


def _account(ctx: SandboxContext) -> str:
    return (ctx.keys.alipay.seller_id or "2088000000000001") + "0156"


def _bill_lines(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[bill.BillLine]:
    return bill.lines_for_day(db.trades_paid_between(conn, start, end), db.refunds_between(conn, start, end))


def _bill_url(ctx: SandboxContext, conn: sqlite3.Connection, call: Call) -> Reply:
    """A 30-second link to the day's trade bill, served by this sandbox (signcustomer bills: none)."""
    biz, now = call.biz, call.now
    bill_type = str(biz.get("bill_type") or "")
    bill_date = str(biz.get("bill_date") or "")
    if bill_type not in ("trade", "signcustomer"):
        return Reply("40002", "Invalid Arguments", "isv.invalid-parameter", "参数无效: bill_type")
    bounds = rules.bill_day_bounds(bill_date)
    not_exist = Reply("40004", rules.BUSINESS_FAILED, "isp.bill_not_exist", "账单不存在")
    if bounds is None:
        return not_exist  # monthly bills and malformed dates: no such bill here
    start, end = bounds
    today = in_china(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if bill_type != "trade" or start >= today or not _bill_lines(conn, start, end):
        return not_exist
    token = secrets.token_urlsafe(24)
    db.save_bill_token(conn, token, bill_type, bill_date, now.timestamp() + BILL_URL_TTL_S)
    query = urlencode(
        {
            "bizType": bill_type,
            "userId": _account(ctx),
            "fileType": "csv.zip",
            "bizDates": start.strftime("%Y%m%d"),
            "downloadFileName": bill.bill_file_name(_account(ctx), start),
            "fileId": token,
        }
    )
    url = call.base_url.rstrip("/") + BILL_PATH + "?" + query
    return Reply(*rules.SUCCESS, fields={"bill_download_url": url})


METHODS: dict[str, Handler] = {
    "alipay.trade.precreate": _precreate,
    "alipay.trade.create": _create,
    "alipay.trade.pay": _pay,
    "alipay.trade.query": _query,
    "alipay.trade.cancel": _cancel,
    "alipay.trade.close": _close,
    "alipay.trade.refund": _refund,
    "alipay.trade.fastpay.refund.query": _refund_query,
    "alipay.data.dataservice.bill.downloadurl.query": _bill_url,
}
#: Methods whose replies do not follow the ``…_response`` code/msg shape (rendered by their own function).
RAW_METHODS = frozenset({"alipay.system.oauth.token"})


# --- routes -------------------------------------------------------------------------------------


@router.api_route("/gateway.do", methods=["GET", "POST"])
async def gateway(request: Request, ctx: Ctx) -> Response:
    ensure_schema(ctx)
    body = await request.body() if request.method == "POST" else b""
    params, charset = _merge_params(request.url.query, body, request.headers.get("content-type", ""))
    error = _check_common(ctx, params, charset)
    if error is not None:
        return _render(ctx, error, charset)
    method = params["method"]
    if method in RAW_METHODS:
        return _oauth_token(ctx, params, charset)
    biz = _biz(params)
    if biz is None:
        return _render(ctx, _common_error(method, "40002", "isv.invalid-parameter", "参数无效: biz_content"), charset)
    out_trade_no = str(biz.get("out_trade_no") or "") or None
    fault = await ctx.faults.before_request(gateway=GATEWAY, operation=method, out_trade_no=out_trade_no)
    if fault is not None:
        answer = _fault_answer(method, fault, biz)
        return answer if isinstance(answer, Response) else _render(ctx, answer, charset)
    call = Call(biz, params, _now(ctx), str(request.base_url))
    with ctx.store.transaction() as conn:
        reply = METHODS[method](ctx, conn, call)
    ctx.faults.after_commit(gateway=GATEWAY, operation=method, out_trade_no=out_trade_no)
    return _render(ctx, Answer(response_key(method), reply), charset)


@router.get(BILL_PATH)
async def download_bill(ctx: Ctx, fileId: str = "") -> Response:  # noqa: N803 - Alipay's parameter name
    ensure_schema(ctx)
    now = _now(ctx)
    with ctx.store.transaction() as conn:
        row = db.load_bill_token(conn, fileId) if fileId else None
        if row is None or row["expires_at"] < now.timestamp():
            return PlainTextResponse("链接已失效 (the bill link is unknown or older than 30 s)", status_code=404)
        bounds = rules.bill_day_bounds(row["bill_date"])
        assert bounds is not None
        start, end = bounds
        lines = _bill_lines(conn, start, end)
    name = bill.bill_file_name(_account(ctx), start)
    content = bill.trade_bill_zip(_account(ctx), start, end, lines, now)
    return Response(
        content=content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- background and wallet hooks ----------------------------------------------------------------


def tick(ctx: SandboxContext) -> None:
    """Apply what time decided for every open trade (password entries, delayed scans, timeouts)."""
    ensure_schema(ctx)
    now = _now(ctx)
    with ctx.store.transaction() as conn:
        for trade in db.open_trades(conn):
            deadline = rules.next_deadline(trade)
            if deadline is None or deadline > now:
                continue
            notices = rules.settle(trade, now)
            db.save_trade(conn, trade)
            _queue_notices(ctx, trade, notices, now)


def pay_qr(ctx: SandboxContext, qr: str, request: PayRequest) -> PayOutcome:
    """The customer scans an Alipay QR of this sandbox and pays (now or at ``request.pay_at``), or fails."""
    ensure_schema(ctx)
    now = datetime.fromtimestamp(request.now, CHINA_TZ)
    with ctx.store.transaction() as conn:
        trade = db.load_trade_by_qr(conn, qr)
        if trade is None:
            raise UnknownQrCode("No Alipay order behind this QR code (check that it was copied whole).")
        notices = rules.settle(trade, now)
        apply_settled(ctx, conn, trade, notices, now)
        scanned = rules.scan(trade, now, notify_wait=ctx.settings.sandbox.alipay_notify_wait_buyer_pay)
        if scanned.reply.code != "10000":
            return PayOutcome(False, GATEWAY, trade.out_trade_no, trade.status.value, scanned.reply.sub_msg)
        apply_outcome(ctx, conn, scanned, now)
        if request.fail is not None:
            reason = {"balance": "余额不足", "cancel": "用户取消支付", "risk": "支付存在风险"}.get(
                request.fail, request.fail
            )
            return PayOutcome(False, GATEWAY, trade.out_trade_no, trade.status.value, f"支付失败：{reason}")
        if request.pay_at > request.now:
            trade.pending, trade.pending_until = Pending.CONFIRM, datetime.fromtimestamp(request.pay_at, CHINA_TZ)
            db.save_trade(conn, trade)
            return PayOutcome(True, GATEWAY, trade.out_trade_no, trade.status.value, "等待买家确认付款")
        paid = rules.native_pay(trade, now)
        apply_outcome(ctx, conn, paid, now)
    ok = paid.reply.code == "10000"
    return PayOutcome(ok, GATEWAY, trade.out_trade_no, trade.status.value, "支付成功" if ok else paid.reply.sub_msg)


register_ticker(GATEWAY, tick)
register_preparer(GATEWAY, _preparer)
register_native_handler(QR_PREFIX, GATEWAY, pay_qr)

__all__ = ["router", "tick", "pay_qr"]
