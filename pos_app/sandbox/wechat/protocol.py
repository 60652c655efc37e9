"""The WeChat Pay v3 wire rules the simulator enforces and produces (spec §1, §2, §4 general rules).

Requests: ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
timestamp="…",serial_no="…"`` over the five-line message built from the *raw* method, the *raw*
request target (path + ``?query`` exactly as sent), the timestamp, the nonce and the raw body.
Responses: ``Wechatpay-Timestamp/Nonce/Signature/Serial/Signature-Type`` over
``TIMESTAMP\\nNONCE\\nBODY\\n`` and a ``Request-ID`` whose suffix after the last ``-`` is a numeric code.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Request
from fastapi.responses import Response

from pos_app.engine.crypto.rsa import SignatureInvalid, sign_sha256_rsa, verify_sha256_rsa
from pos_app.sandbox.context import SandboxContext

SCHEME = "WECHATPAY2-SHA256-RSA2048"
TIMESTAMP_WINDOW_S = 300
_AUTH_FIELD = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*')
_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")

# Internal codes carried as the Request-ID suffix (spec §4).
RID_OK = 0
RID_SIGN_ERROR = 268443699
RID_ORDER_NOT_EXIST = 268512771
RID_CODEPAY_CLOSE = 268449641
RID_PARAMS_DIFFER = 268498688
RID_GENERIC = 268435456


class WechatApiError(Exception):
    """An error answer: HTTP status + {"code", "message", "detail"?}. Rendered signed by the app."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        detail: dict[str, Any] | None = None,
        rid_code: int = RID_GENERIC,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.rid_code = rid_code

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


def param_error(field: str, issue: str, *, value: Any = None, location: str = "body") -> WechatApiError:
    detail: dict[str, Any] = {"field": field, "issue": issue, "location": location}
    if value is not None:
        detail["value"] = value
    return WechatApiError(400, "PARAM_ERROR", f"参数错误: {field} {issue}", detail=detail)


def system_error(status: int = 500) -> WechatApiError:
    if status == 429:
        return WechatApiError(429, "RATELIMIT_EXCEEDED", "达到调用速率限制")
    if status in (502, 503):
        return WechatApiError(status, "SERVICE_UNAVAILABLE", "服务不可用，请稍后重试")
    return WechatApiError(status, "SYSTEM_ERROR", "系统繁忙，请稍后重试")


def new_nonce(n: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def request_id(rid_code: int = RID_OK) -> str:
    base = uuid.uuid4().hex.upper()[:36]
    return f"{base}-{rid_code}" if rid_code else base


# ---- requests -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    mchid: str
    body: bytes
    wechatpay_serial: str | None  # the request's Wechatpay-Serial header, if any


def raw_target(request: Request) -> str:
    """The request target exactly as sent: raw path plus ``?query`` (no re-encoding)."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode("ascii")
    query: bytes = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def request_message(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{method}\n{target}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def parse_authorization(value: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme != SCHEME:
        raise _sign_error("authorization scheme must be " + SCHEME)
    fields: dict[str, str] = {}
    for part in rest.split(","):
        match = _AUTH_FIELD.fullmatch(part)
        if match is None:
            raise _sign_error("malformed authorization field")
        fields[match.group(1)] = match.group(2)
    missing = [f for f in _AUTH_FIELDS if not fields.get(f)]
    if missing:
        raise _sign_error(f"authorization lacks {', '.join(missing)}")
    return fields


def _sign_error(
    issue: str, *, message: str = "签名错误，请检查后再试", extra: dict[str, Any] | None = None
) -> WechatApiError:
    detail: dict[str, Any] = {"field": "signature", "location": "authorization", "issue": issue}
    detail.update(extra or {})
    return WechatApiError(401, "SIGN_ERROR", message, detail=detail, rid_code=RID_SIGN_ERROR)


async def verify_request(ctx: SandboxContext, request: Request) -> VerifiedRequest:
    """Check headers, Authorization, serial, timestamp window and signature; return the raw body."""
    accept = request.headers.get("accept", "")
    user_agent = request.headers.get("user-agent", "").strip()
    if not user_agent or not ("application/json" in accept or "*/*" in accept):
        raise WechatApiError(400, "INVALID_REQUEST", "Http头缺少Accept或User-Agent")
    body = await request.body()
    if body and "application/json" not in request.headers.get("content-type", ""):
        raise WechatApiError(400, "INVALID_REQUEST", "Http头Content-Type值必须为application/json")
    authorization = request.headers.get("authorization")
    if not authorization:
        raise _sign_error("authorization header is missing")
    fields = parse_authorization(authorization)
    keys = ctx.keys.wechat
    if fields["mchid"] != keys.mchid:
        raise _sign_error("mchid not found", message="商户号不存在或与证书不匹配")
    if fields["serial_no"] != keys.merchant_serial_no:
        raise _sign_error("serial_no does not name the merchant certificate", message="商户证书序列号有误")
    timestamp = fields["timestamp"]
    if not timestamp.isdigit() or abs(ctx.now("wechat") - int(timestamp)) >= TIMESTAMP_WINDOW_S:
        raise _sign_error("timestamp is not within 5 minutes of the server time", message="请求时间戳已过期或不合法")
    target = raw_target(request)
    message = request_message(request.method, target, timestamp, fields["nonce_str"], body)
    try:
        verify_sha256_rsa(keys.merchant_public_key, message, fields["signature"])
    except SignatureInvalid:
        raise _sign_error(
            "sign not match",
            extra={
                "sign_information": {
                    "method": request.method,
                    "sign_message_length": len(message),
                    "truncated_sign_message": message[:64].decode("utf-8", "replace"),
                    "url": target,
                }
            },
        ) from None
    return VerifiedRequest(mchid=fields["mchid"], body=body, wechatpay_serial=request.headers.get("wechatpay-serial"))


def parse_json_body(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WechatApiError(400, "PARAM_ERROR", "请求体不是有效的UTF-8") from None
    if any(ord(ch) > 0xFFFF for ch in text):
        raise WechatApiError(400, "PARAM_ERROR", "请求参数中含有4字节UTF-8字符(如emoji)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise WechatApiError(400, "PARAM_ERROR", "请求体不是有效的JSON") from None
    if not isinstance(data, dict):
        raise WechatApiError(400, "PARAM_ERROR", "请求体必须是JSON对象")
    return data


# ---- responses ------------------------------------------------------------------------------------


def signing_key(ctx: SandboxContext, request_serial: str | None = None) -> tuple[str, rsa.RSAPrivateKey]:
    """(Wechatpay-Serial, private key) to sign with.

    Public-key mode: always the public-key pair. Platform-certificate mode: the newest certificate,
    unless the request named the PUB_KEY_ID (a merchant migrating to the public key, spec §2).
    """
    keys = ctx.keys.wechat
    if ctx.settings.sandbox.wechat_mode == "public_key" or (
        request_serial is not None and request_serial == keys.pub_key_id
    ):
        return keys.pub_key_id, keys.pay_private_key
    cert = keys.newest_platform_cert
    return cert.serial_no, cert.private_key


def signed_headers(
    ctx: SandboxContext, body: bytes, *, request_serial: str | None = None, rid_code: int = RID_OK
) -> dict[str, str]:
    serial, key = signing_key(ctx, request_serial)
    timestamp = str(int(ctx.now("wechat")))
    nonce = new_nonce()
    signature = sign_sha256_rsa(key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEME,
        "Request-ID": request_id(rid_code),
    }


def dump_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(
    ctx: SandboxContext, status: int, data: Any | None, *, request_serial: str | None = None, rid_code: int = RID_OK
) -> Response:
    """A signed answer (``data`` None: empty body, e.g. 204)."""
    body = b"" if data is None else dump_json(data)
    headers = signed_headers(ctx, body, request_serial=request_serial, rid_code=rid_code)
    media = "application/json" if data is not None else None
    return Response(content=body, status_code=status, headers=headers, media_type=media)


def error_response(ctx: SandboxContext, error: WechatApiError, *, request_serial: str | None = None) -> Response:
    return json_response(ctx, error.status, error.body(), request_serial=request_serial, rid_code=error.rid_code)
