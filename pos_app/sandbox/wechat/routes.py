"""WeChat Pay v3 HTTP routes, on the real paths (spec §4, §5, §2 Mode A).

Every route: verify the request (headers, Authorization, serial, timestamp window, signature over
the raw bytes) → apply request faults → run the business rule → answer signed. Importing this module
registers the WeChat hooks (tables, ticker, notification signer, native QR handler).
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pos_app.engine.crypto.aead import encrypt_resource
from pos_app.engine.crypto.rsa import sign_sha256_rsa
from pos_app.sandbox.clock import china_date_text, rfc3339_china
from pos_app.sandbox.context import SandboxContext, get_ctx, register_preparer, register_setup, register_ticker
from pos_app.sandbox.notifier import NotificationRecord, Preparer
from pos_app.sandbox.wallet import register_native_handler, register_open_qr_lister
from pos_app.sandbox.wechat import bills, rules, store, views
from pos_app.sandbox.wechat.protocol import (
    SCHEME,
    VerifiedRequest,
    WechatApiError,
    error_response,
    json_response,
    new_nonce,
    param_error,
    parse_json_body,
    request_id,
    signing_key,
    system_error,
    verify_request,
)

GATEWAY = "wechat"
BILL_URL_TTL_S = 300
BILL_HISTORY_DAYS = 92

router = APIRouter()
Ctx = Annotated[SandboxContext, Depends(get_ctx)]
Action = Callable[[VerifiedRequest, dict[str, Any]], tuple[int, Any]]


async def _serve(
    ctx: SandboxContext,
    request: Request,
    operation: str,
    action: Action,
    *,
    out_trade_no: str | None = None,
    signed: bool = True,
) -> Response:
    request_serial = request.headers.get("wechatpay-serial")
    try:
        verified = await verify_request(ctx, request)
        data = parse_json_body(verified.body) if verified.body else {}
        if out_trade_no is None and isinstance(data.get("out_trade_no"), str):
            out_trade_no = data["out_trade_no"]
        fault = await ctx.faults.before_request(gateway=GATEWAY, operation=operation, out_trade_no=out_trade_no)
        if fault is not None:
            raise system_error(fault.status)
        status, payload = action(verified, data)
    except WechatApiError as error:
        response = error_response(ctx, error, request_serial=request_serial)
    else:
        if isinstance(payload, Response):
            response = payload
        elif signed:
            response = json_response(ctx, status, payload, request_serial=request_serial)
        else:
            response = Response(payload, status_code=status)
    ctx.faults.after_commit(gateway=GATEWAY, operation=operation, out_trade_no=out_trade_no)
    return response


@router.post("/v3/pay/transactions/native")
async def native_prepay(request: Request, ctx: Ctx) -> Response:
    return await _serve(ctx, request, "native", lambda v, data: (200, rules.create_native(ctx, data, v.mchid)))


@router.post("/v3/pay/transactions/jsapi")
async def jsapi_prepay(request: Request, ctx: Ctx) -> Response:
    return await _serve(ctx, request, "jsapi", lambda v, data: (200, rules.create_jsapi(ctx, data, v.mchid)))


@router.post("/v3/pay/transactions/codepay")
async def codepay(request: Request, ctx: Ctx) -> Response:
    return await _serve(ctx, request, "codepay", lambda v, data: rules.create_codepay(ctx, data, v.mchid))


def _mchid_query(request: Request, auth_mchid: str) -> None:
    mchid = request.query_params.get("mchid")
    if not mchid:
        raise param_error("mchid", "is required", location="query")
    if mchid != auth_mchid:
        raise param_error(
            "mchid", "does not match the merchant of the request signature", value=mchid, location="query"
        )


@router.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
async def query_by_out_trade_no(out_trade_no: str, request: Request, ctx: Ctx) -> Response:
    def action(v: VerifiedRequest, data: dict[str, Any]) -> tuple[int, Any]:
        _mchid_query(request, v.mchid)
        return 200, views.transaction_view(rules.load_order(ctx, out_trade_no=out_trade_no))

    return await _serve(ctx, request, "query", action, out_trade_no=out_trade_no)


@router.get("/v3/pay/transactions/id/{transaction_id}")
async def query_by_transaction_id(transaction_id: str, request: Request, ctx: Ctx) -> Response:
    def action(v: VerifiedRequest, data: dict[str, Any]) -> tuple[int, Any]:
        _mchid_query(request, v.mchid)
        return 200, views.transaction_view(rules.load_order(ctx, transaction_id=transaction_id))

    return await _serve(ctx, request, "query", action)


@router.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
async def close(out_trade_no: str, request: Request, ctx: Ctx) -> Response:
    def action(v: VerifiedRequest, data: dict[str, Any]) -> tuple[int, Any]:
        rules.close_order(ctx, out_trade_no, data, v.mchid)
        return 204, None

    return await _serve(ctx, request, "close", action, out_trade_no=out_trade_no)


@router.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse")
async def reverse(out_trade_no: str, request: Request, ctx: Ctx) -> Response:
    return await _serve(
        ctx,
        request,
        "reverse",
        lambda v, data: (200, rules.reverse_order(ctx, out_trade_no, data, v.mchid)),
        out_trade_no=out_trade_no,
    )


@router.post("/v3/refund/domestic/refunds")
async def refund(request: Request, ctx: Ctx) -> Response:
    return await _serve(ctx, request, "refund", lambda v, data: (200, rules.create_refund(ctx, data)))


@router.get("/v3/refund/domestic/refunds/{out_refund_no}")
async def refund_query(out_refund_no: str, request: Request, ctx: Ctx) -> Response:
    return await _serve(
        ctx, request, "refund_query", lambda v, data: (200, views.refund_view(rules.load_refund(ctx, out_refund_no)))
    )


# ---- platform certificates ------------------------------------------------------------------------


def certificate_list(ctx: SandboxContext) -> dict[str, Any]:
    out = []
    for cert in ctx.keys.wechat.platform_certs:
        nonce = new_nonce(12)
        out.append(
            {
                "serial_no": cert.serial_no,
                "effective_time": rfc3339_china(cert.effective_at.timestamp()),
                "expire_time": rfc3339_china(cert.expire_at.timestamp()),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": encrypt_resource(ctx.keys.wechat.apiv3_key, nonce, "certificate", cert.pem.encode()),
                },
            }
        )
    return {"data": out}


@router.get("/v3/certificates")
async def certificates(request: Request, ctx: Ctx) -> Response:
    def action(v: VerifiedRequest, data: dict[str, Any]) -> tuple[int, Any]:
        algorithm = request.query_params.get("algorithm_type", "RSA")
        if algorithm not in ("RSA", "SM2", "ALL"):
            raise param_error("algorithm_type", "must be RSA, SM2 or ALL", value=algorithm, location="query")
        if ctx.settings.sandbox.wechat_mode == "public_key" or not ctx.keys.wechat.platform_certs:
            raise WechatApiError(500, "SYSTEM_ERROR", "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥")
        if algorithm == "SM2":
            return 200, {"data": []}
        return 200, certificate_list(ctx)

    return await _serve(ctx, request, "certificates", action)


# ---- bills ----------------------------------------------------------------------------------------


def _bill_date(ctx: SandboxContext, text: str | None) -> str:
    if not text:
        raise param_error("bill_date", "is required", location="query")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise param_error("bill_date", "must be YYYY-MM-DD", value=text, location="query") from None
    if len(text) != 10:
        raise param_error("bill_date", "must be YYYY-MM-DD", value=text, location="query")
    today = date.fromisoformat(china_date_text(ctx.now(GATEWAY)))
    # The real gateway offers a day's bill from 09:00 the next day; the sandbox also serves today's
    # (so a demo can reconcile at once). Future days and days over 3 months old are refused.
    if day > today or day < today - timedelta(days=BILL_HISTORY_DAYS):
        raise param_error(
            "bill_date", "must be within the last 3 months and not in the future", value=text, location="query"
        )
    return text


@router.get("/v3/bill/tradebill")
async def tradebill(request: Request, ctx: Ctx) -> Response:
    def action(v: VerifiedRequest, data: dict[str, Any]) -> tuple[int, Any]:
        params = request.query_params
        bill_date = _bill_date(ctx, params.get("bill_date"))
        bill_type = params.get("bill_type", "ALL")
        if bill_type not in bills.KNOWN_BILL_TYPES:
            raise param_error("bill_type", "unknown bill type", value=bill_type, location="query")
        if bill_type not in bills.BILL_TYPES:
            raise WechatApiError(400, "PARAM_ERROR", f"沙箱不提供{bill_type}类型账单 (sandbox: ALL, SUCCESS, REFUND)")
        tar_type = params.get("tar_type")
        if tar_type not in (None, "GZIP"):
            raise param_error("tar_type", "must be GZIP", value=tar_type, location="query")
        with ctx.store.transaction() as conn:
            rows = bills.collect_rows(conn, bill_date, v.mchid)
        wanted = [r for r in rows if bill_type == "ALL" or (r.kind == "payment") == (bill_type == "SUCCESS")]
        if not wanted:
            raise WechatApiError(400, "NO_STATEMENT_EXIST", "账单文件不存在（当日无交易）")
        content = bills.render_bill(rows, bill_type)
        token = secrets.token_urlsafe(24)
        with ctx.store.transaction() as conn:
            store.save_bill(
                conn,
                token=token,
                bill_date=bill_date,
                bill_type=bill_type,
                gzip=tar_type == "GZIP",
                content=content,
                created_at=ctx.now(GATEWAY),
            )
        base = str(request.base_url).rstrip("/")
        url = f"{base}/v3/billdownload/file?token={token}" + ("&tartype=gzip" if tar_type == "GZIP" else "")
        return 200, {"hash_type": "SHA1", "hash_value": hashlib.sha1(content).hexdigest(), "download_url": url}

    return await _serve(ctx, request, "tradebill", action)


@router.get("/v3/billdownload/file")
async def billdownload(request: Request, ctx: Ctx) -> Response:
    def action(v: VerifiedRequest, data: dict[str, Any]) -> tuple[int, Any]:
        token = request.query_params.get("token", "")
        with ctx.store.transaction() as conn:
            row = store.load_bill(conn, token)
        if row is None:
            raise WechatApiError(400, "PARAM_ERROR", "下载链接无效")
        if ctx.now(GATEWAY) - row["created_at"] > BILL_URL_TTL_S:
            raise WechatApiError(400, "INVALID_REQUEST", "下载链接已过期，请重新申请账单")
        content = bytes(row["content"])
        if row["gzip"]:
            content = gzip.compress(content, mtime=0)
        # The file stream is not signed (spec §5): no Wechatpay-* headers.
        return 200, Response(content, media_type="application/octet-stream", headers={"Request-ID": request_id()})

    return await _serve(ctx, request, "billdownload", action)


# ---- hooks ----------------------------------------------------------------------------------------


def _preparer(ctx: SandboxContext) -> Preparer:
    def prepare(record: NotificationRecord, now: float) -> tuple[bytes, dict[str, str]]:
        serial, key = signing_key(ctx)
        timestamp, nonce = str(int(now)), new_nonce()
        if record.probe:
            signature = "WECHATPAY/SIGNTEST/" + new_nonce(40)
        else:
            signature = sign_sha256_rsa(key, f"{timestamp}\n{nonce}\n".encode() + record.body + b"\n")
        return record.body, {
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/4.0",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": SCHEME,
            "Request-ID": request_id(),
        }

    return prepare


def _setup(ctx: SandboxContext) -> None:
    ctx.store.ensure_schema(store.WECHAT_DDL)


register_setup(GATEWAY, _setup)
register_ticker(GATEWAY, rules.settle_due)
register_preparer(GATEWAY, _preparer)
register_native_handler(rules.CODE_URL_PREFIX, GATEWAY, rules.pay_native_qr)
register_open_qr_lister(GATEWAY, rules.open_native_qrs)
