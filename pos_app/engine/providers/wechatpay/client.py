"""WeChat Pay APIv3 client for a direct merchant (spec specs/wechatpay-v3.md §2–§5).

Every answer maps onto the typed results and errors of providers/base.py (table in codes.py):
2xx bodies are verified over their raw bytes before they are believed; 5xx, SYSTEM_ERROR, timeouts
and unverifiable answers raise OutcomeUnknownError; definite refusals raise DefiniteFailure with a
message the cashier can act on.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import zlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel, mask_code
from pos_app.domain.states import PaymentState
from pos_app.engine.providers.base import (
    ConfigurationError,
    DefiniteFailure,
    GatewayError,
    NativeOrder,
    Notification,
    NotificationAck,
    OrderNotFound,
    RefundResult,
    ResponseVerificationError,
    ReverseResult,
    TradeResult,
)
from pos_app.engine.providers.common import Clock, RetryPolicy, system_clock
from pos_app.engine.providers.tls import gateway_tls
from pos_app.engine.providers.wechatpay import codes
from pos_app.engine.providers.wechatpay.jsapi import BridgePay, bridge_pay
from pos_app.engine.providers.wechatpay.notifications import NotificationParser, UnknownSigningKey
from pos_app.engine.providers.wechatpay.results import inconclusive, refund_result, trade_result
from pos_app.engine.providers.wechatpay.signing import SignatureRejected, WechatPayAuth, new_nonce
from pos_app.engine.providers.wechatpay.verifier import CERTIFICATES_PATH, CertificateError, WechatPayVerifier

log = logging.getLogger(__name__)

FAIL_BODY = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _dump(body: Mapping[str, Any]) -> bytes:
    """Serialise once; these exact bytes are signed and sent."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WechatPayClient:
    """The :class:`~pos_app.engine.providers.base.PaymentProvider` for WeChat Pay APIv3."""

    channel = Channel.WECHAT

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_serial_no: str,
        merchant_private_key: rsa.RSAPrivateKey,
        apiv3_key: bytes,
        verifier: WechatPayVerifier,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.mchid = mchid
        self.appid = appid
        self._private_key = merchant_private_key  # also signs the JSAPI bridge parameters (paySign)
        self.verifier = verifier
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._refresh_lock = asyncio.Lock()
        self._refresh_task: asyncio.Task[None] | None = None
        self._notifications = NotificationParser(mchid=mchid, appid=appid, apiv3_key=apiv3_key, verifier=verifier)
        self._certificates_tried = False
        auth = WechatPayAuth(
            mchid=mchid,
            serial_no=merchant_serial_no,
            private_key=merchant_private_key,
            clock=clock,
            nonce_factory=new_nonce,
            wechatpay_serial=verifier.public_key_id,
        )
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s, auth=auth, verify=gateway_tls()
        )

    # ---------------------------------------------------------------- transport and mapping

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool,
        verify: bool = True,
    ) -> httpx.Response:
        content = _dump(body) if body is not None else None
        if verify and not self._certificates_tried and self.verifier.use_platform_certificates:
            await self._preload_certificates()

        async def once() -> httpx.Response:
            return await self._http.request(method, path, content=content, params=params)

        response = await self._retry.run(once, idempotent=idempotent)
        if verify and 200 <= response.status_code < 300:
            await self._verify_response(response)
        return response

    async def _verify_response(self, response: httpx.Response) -> None:
        try:
            self.verifier.verify(response.headers, response.content)
            return
        except SignatureRejected as exc:
            if not (exc.unknown_serial and self.verifier.use_platform_certificates):
                log.warning("WeChat Pay response refused: %s", exc.reason)
                raise ResponseVerificationError(
                    "WeChat Pay's answer failed signature verification — the result is being checked.",
                    code="RESPONSE_SIGNATURE",
                ) from None
        await self.refresh_certificates()
        try:
            self.verifier.verify(response.headers, response.content)
        except SignatureRejected as exc:
            log.warning("WeChat Pay response refused after certificate refresh: %s", exc.reason)
            raise ResponseVerificationError(
                "WeChat Pay's answer failed signature verification — the result is being checked.",
                code="RESPONSE_SIGNATURE",
            ) from None

    async def _preload_certificates(self) -> None:
        """Certificate mode: fetch the list before the first call, so that callbacks signed by a
        certificate verify even when every answer so far came signed by the public key (migration)."""
        self._certificates_tried = True
        try:
            await self.refresh_certificates()
        except GatewayError as exc:
            log.warning("WeChat Pay platform certificates not loaded yet: %s", exc.reason)

    async def refresh_certificates(self) -> frozenset[str]:
        """Download, decrypt and bootstrap-verify the platform certificates (platform-cert mode)."""
        async with self._refresh_lock:
            self._certificates_tried = True
            response = await self._send("GET", CERTIFICATES_PATH, idempotent=True, verify=False)
            if response.status_code != 200:
                code = self._error_code(response)
                raise ResponseVerificationError(
                    f"WeChat Pay platform certificates unavailable (HTTP {response.status_code} {code}) — "
                    "configure the WeChat Pay public key.",
                    code=code or "CERTIFICATES_UNAVAILABLE",
                )
            try:
                serials = self.verifier.install_certificates(response.headers, response.content)
            except CertificateError as exc:
                log.warning("WeChat Pay certificate list refused: %s", exc)
                raise ResponseVerificationError(
                    "WeChat Pay's certificate list failed verification — check the APIv3 key.",
                    code="CERTIFICATES_INVALID",
                ) from None
            log.info("WeChat Pay platform certificates installed: %s", ", ".join(sorted(serials)))
            return serials

    @staticmethod
    def _error_fields(response: httpx.Response) -> tuple[str, str]:
        """(code, message) of an error body; empty strings when there is none."""
        try:
            data = response.json()
        except ValueError:
            return "", ""
        if not isinstance(data, Mapping):
            return "", ""
        return str(data.get("code", "")), str(data.get("message", ""))

    @classmethod
    def _error_code(cls, response: httpx.Response) -> str:
        return cls._error_fields(response)[0]

    def _error(self, response: httpx.Response) -> GatewayError:
        """The error for a non-2xx answer (error bodies are not signed; they are not believed further)."""
        status = response.status_code
        code, message = self._error_fields(response)
        if status >= 500 or status == 429 or code in codes.UNKNOWN_CODES:
            return inconclusive(f"HTTP {status} {code}".strip(), code or f"HTTP_{status}")
        if code in codes.NOT_FOUND_CODES:
            return OrderNotFound("WeChat Pay has no such order.", code=code)
        if code in codes.CONFIGURATION_CODES:
            return ConfigurationError(codes.CONFIGURATION_CODES[code], code=code)
        if not code:
            return ConfigurationError(
                f"WeChat Pay gave an unexpected answer (HTTP {status}) — check the gateway URL.", code=f"HTTP_{status}"
            )
        return DefiniteFailure(codes.refusal_reason(code, message), code=code)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            data = json.loads(response.content)
        except ValueError:
            raise inconclusive("unreadable body", "UNREADABLE") from None
        if not isinstance(data, dict):
            raise inconclusive("unexpected body", "UNREADABLE")
        return data

    # ---------------------------------------------------------------- payments

    async def create_native(
        self, *, out_trade_no: str, amount_fen: int, subject: str, notify_url: str, expires_at: datetime
    ) -> NativeOrder:
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": subject[:127],
            "out_trade_no": out_trade_no,
            "time_expire": expires_at.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
            "notify_url": notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
        }
        # A replay with the same out_trade_no and identical parameters is allowed (spec §4).
        response = await self._send("POST", "/v3/pay/transactions/native", body=body, idempotent=True)
        if response.status_code != 200:
            raise self._error(response)
        code_url = self._json(response).get("code_url")
        if not isinstance(code_url, str) or not code_url:
            raise inconclusive("no code_url", "NO_CODE_URL")
        return NativeOrder(out_trade_no=out_trade_no, code_url=code_url, expires_at=expires_at)

    async def create_jsapi(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        expires_at: datetime,
        openid: str,
        payer_ip: str | None = None,
    ) -> str:
        """JSAPI prepay for the payer ``openid`` (issued under ``appid``); returns the prepay_id.

        The body is the same on every call for one order (same time_expire), so a repeat returns
        the order's current prepay_id (spec wechatpay-jsapi.md §3)."""
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": subject[:127],
            "out_trade_no": out_trade_no,
            "time_expire": expires_at.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
            "notify_url": notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
            "payer": {"openid": openid},
        }
        if payer_ip:
            body["scene_info"] = {"payer_client_ip": payer_ip}
        response = await self._send("POST", "/v3/pay/transactions/jsapi", body=body, idempotent=True)
        if response.status_code != 200:
            raise self._error(response)
        prepay_id = self._json(response).get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id or len(prepay_id) > 64:
            raise inconclusive("no prepay_id", "NO_PREPAY_ID")
        return prepay_id

    def bridge_pay(self, prepay_id: str, *, nonce_str: str | None = None) -> BridgePay:
        """The page's ``getBrandWCPayRequest`` parameters for ``prepay_id``, signed now."""
        return bridge_pay(
            self._private_key,
            app_id=self.appid,
            prepay_id=prepay_id,
            time_stamp=int(self._clock().timestamp()),
            nonce_str=nonce_str or new_nonce(),
        )

    async def micropay(
        self, *, out_trade_no: str, amount_fen: int, subject: str, auth_code: str, store_id: str, device_id: str
    ) -> TradeResult:
        body = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": subject[:127],
            "out_trade_no": out_trade_no,
            "payer": {"auth_code": auth_code},
            "amount": {"total": amount_fen, "currency": "CNY"},
            "scene_info": {"device_id": device_id, "store_info": {"out_id": store_id}},
        }
        log.info("WeChat codepay %s for %d fen, code %s", out_trade_no, amount_fen, mask_code(auth_code))
        # Never replayed here: an unknown outcome is settled by query, then reverse.
        response = await self._send("POST", "/v3/pay/transactions/codepay", body=body, idempotent=False)
        if response.status_code == 202:
            return TradeResult(
                out_trade_no, PaymentState.USER_PAYING, gateway_code="USERPAYING", raw=self._json(response)
            )
        if 200 <= response.status_code < 300:
            return trade_result(self._json(response), out_trade_no=out_trade_no)
        if self._error_code(response) in codes.USER_PAYING_CODES:
            return TradeResult(out_trade_no, PaymentState.USER_PAYING, gateway_code="USERPAYING")
        raise self._error(response)

    async def query(self, out_trade_no: str) -> TradeResult:
        response = await self._send(
            "GET",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}",
            params={"mchid": self.mchid},
            idempotent=True,
        )
        if response.status_code != 200:
            raise self._error(response)
        return trade_result(self._json(response), out_trade_no=out_trade_no)

    async def query_by_transaction_id(self, transaction_id: str) -> TradeResult:
        response = await self._send(
            "GET",
            f"/v3/pay/transactions/id/{quote(transaction_id, safe='')}",
            params={"mchid": self.mchid},
            idempotent=True,
        )
        if response.status_code != 200:
            raise self._error(response)
        result = trade_result(self._json(response))
        if result.transaction_id not in (None, transaction_id):
            raise ResponseVerificationError(
                "WeChat Pay answered about another order — the result is being checked.", code="ORDER_MISMATCH"
            )
        return result

    async def close(self, out_trade_no: str) -> TradeResult:
        response = await self._send(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close",
            body={"mchid": self.mchid},
            idempotent=True,
        )
        if 200 <= response.status_code < 300:
            return TradeResult(out_trade_no, PaymentState.CLOSED, gateway_code="CLOSED")
        code = self._error_code(response)
        if code in codes.ALREADY_PAID_CODES:
            # "Already paid": the query tells the truth (transaction id, amount, time).
            return await self.query(out_trade_no)
        if code in ("ORDER_CLOSED", "ORDERCLOSED"):
            return TradeResult(out_trade_no, PaymentState.CLOSED, gateway_code=code)
        if response.headers.get("Request-ID", "").endswith(f"-{codes.RID_CLOSE_NEEDS_REVERSE}"):
            raise DefiniteFailure(
                "A payment-code order cannot be closed — reverse it instead.", code="CLOSE_NEEDS_REVERSE"
            )
        raise self._error(response)

    async def reverse(self, out_trade_no: str) -> ReverseResult:
        response = await self._send(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/reverse",
            body={"appid": self.appid, "mchid": self.mchid},
            idempotent=True,
        )
        if 200 <= response.status_code < 300:
            return ReverseResult(out_trade_no, done=True)
        code = self._error_code(response)
        if code in codes.USER_PAYING_CODES:
            # "正在支付中不能发起撤销": not reversed yet, call again shortly.
            return ReverseResult(out_trade_no, done=False, retry=True)
        if code in ("ORDERREVERSED", "ORDER_REVERSED", "REVOKED"):
            return ReverseResult(out_trade_no, done=True)
        raise self._error(response)

    # ---------------------------------------------------------------- refunds

    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str | None,
    ) -> RefundResult:
        body: dict[str, Any] = {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no}
        if reason:
            body["reason"] = reason[:80]
        if notify_url:
            body["notify_url"] = notify_url
        body["amount"] = {"refund": amount_fen, "total": total_fen, "currency": "CNY"}
        # Replays carry the same out_refund_no: the gateway answers the same refund.
        response = await self._send("POST", "/v3/refund/domestic/refunds", body=body, idempotent=True)
        if not 200 <= response.status_code < 300:
            raise self._error(response)
        return refund_result(self._json(response), out_trade_no=out_trade_no)

    async def refund_query(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        response = await self._send(
            "GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}", idempotent=True
        )
        if response.status_code != 200:
            raise self._error(response)
        return refund_result(self._json(response), out_trade_no=out_trade_no)

    # ---------------------------------------------------------------- notifications

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Raw bytes + headers → verified, decrypted Notification, or NotificationInvalid (4xx/5xx)."""
        try:
            return self._notifications.parse(headers, body)
        except UnknownSigningKey:
            # A rotated certificate: WeChat is answered 5xx and sends again; refresh the list meanwhile.
            self._schedule_certificate_refresh()
            raise

    def _schedule_certificate_refresh(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next gateway call refreshes on its own
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = loop.create_task(self._refresh_quietly())

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_certificates()
        except GatewayError as exc:
            log.warning("WeChat Pay certificate refresh failed: %s", exc.reason)

    def ack(self, ok: bool) -> NotificationAck:
        if ok:
            return NotificationAck(204, b"", "application/json")
        return NotificationAck(500, FAIL_BODY, "application/json")

    # ---------------------------------------------------------------- bills

    async def download_bill(self, bill_date: date, *, compressed: bool = True) -> bytes:
        """Trade bill (ALL) of ``bill_date``: the uncompressed CSV bytes, SHA1-checked (spec §5)."""
        params = {"bill_date": bill_date.isoformat(), "bill_type": "ALL"}
        if compressed:
            params["tar_type"] = "GZIP"
        response = await self._send("GET", "/v3/bill/tradebill", params=params, idempotent=True)
        if response.status_code != 200:
            raise self._error(response)
        info = self._json(response)
        url, hash_type, hash_value = info.get("download_url"), info.get("hash_type"), info.get("hash_value")
        if not isinstance(url, str) or not isinstance(hash_value, str) or hash_type != "SHA1":
            raise inconclusive("bill answer without download_url/SHA1", "BILL_ANSWER")
        # The download is signed like any request, but its answer is not signed (spec §5).
        file = await self._send("GET", url, idempotent=True, verify=False)
        if file.status_code != 200:
            raise self._error(file)
        data = file.content
        if compressed:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                raise ResponseVerificationError("The WeChat Pay bill is not valid GZIP.", code="BILL_GZIP") from None
        if hashlib.sha1(data).hexdigest() != hash_value.lower():
            raise ResponseVerificationError(
                "The WeChat Pay bill does not match its SHA1 — download it again.", code="BILL_HASH"
            )
        return data

    async def aclose(self) -> None:
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_task.cancel()
        await self._http.aclose()
