"""Alipay OpenAPI face-to-face (当面付) client, RSA2 keys mode (spec specs/alipay-f2f.md).

Requests are POSTed as one form (common params + ``biz_content``) to the injected gateway URL.
Answers are believed only after the raw ``<method>_response`` text verifies; 20000, ACQ.SYSTEM_ERROR,
timeouts, unreadable or unsigned answers raise OutcomeUnknownError (or its ResponseVerificationError).
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.money import fen_to_yuan
from pos_app.domain.routing import Channel, mask_code
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.crypto.rsa import SignatureInvalid
from pos_app.engine.providers.alipay import codes
from pos_app.engine.providers.alipay.notifications import NotificationParser
from pos_app.engine.providers.alipay.results import (
    TIME_FORMAT,
    cst_time,
    fen_or_none,
    inconclusive,
    trade_status_result,
)
from pos_app.engine.providers.alipay.signing import (
    EnvelopeError,
    sign_request,
    verify_response,
)
from pos_app.engine.providers.base import (
    ConfigurationError,
    DefiniteFailure,
    GatewayError,
    NativeOrder,
    Notification,
    NotificationAck,
    OAuthCodeInvalid,
    OrderNotFound,
    RefundResult,
    ResponseVerificationError,
    ReverseResult,
    TradeResult,
)
from pos_app.engine.providers.common import Clock, RetryPolicy, system_clock
from pos_app.engine.providers.tls import gateway_tls

log = logging.getLogger(__name__)

CHARSET = "utf-8"
FORM_TYPE = "application/x-www-form-urlencoded;charset=utf-8"


OAUTH_TOKEN = "alipay.system.oauth.token"
_USER_ID = re.compile(r"2088\d{12}")


def _is_user_id(buyer: str) -> bool:
    return _USER_ID.fullmatch(buyer) is not None


def _unsigned_code_invalid(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        return False
    error = data.get("error_response") if isinstance(data, dict) else None
    return isinstance(error, dict) and error.get("sub_code") == "isv.code-invalid" and not data.get("sign")


class AlipayClient:
    """The :class:`~pos_app.engine.providers.base.PaymentProvider` for Alipay face-to-face payments."""

    channel = Channel.ALIPAY

    def __init__(
        self,
        *,
        app_id: str,
        app_private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        gateway: str,
        seller_id: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.app_id = app_id
        self.seller_id = seller_id
        self._private_key = app_private_key
        self._public_key = alipay_public_key
        self._gateway = gateway
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout_s, verify=gateway_tls())
        self._notifications = NotificationParser(app_id=app_id, seller_id=seller_id, public_key=alipay_public_key)

    # ---------------------------------------------------------------- transport and mapping

    def signed_params(
        self,
        method: str,
        biz: Mapping[str, Any] | None,
        *,
        notify_url: str | None = None,
        top_level: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The complete, signed form of one call (``biz`` is serialised once, then signed as sent).
        ``biz`` None sends no ``biz_content`` (``alipay.system.oauth.token`` takes its arguments as
        ``top_level`` parameters)."""
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": CHARSET,
            "sign_type": "RSA2",
            "timestamp": self._clock().astimezone(CHINA_TZ).strftime(TIME_FORMAT),
            "version": "1.0",
        }
        if biz is not None:
            params["biz_content"] = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
        if notify_url:
            params["notify_url"] = notify_url
        params.update(top_level or {})
        return {**params, "sign": sign_request(params, self._private_key, charset=CHARSET)}

    async def _call(
        self,
        method: str,
        biz: Mapping[str, Any] | None,
        *,
        idempotent: bool,
        notify_url: str | None = None,
        top_level: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one call; return the verified ``<method>_response`` object (any code)."""
        params = self.signed_params(method, biz, notify_url=notify_url, top_level=top_level)
        content = urlencode(params).encode("ascii")

        async def once() -> httpx.Response:
            return await self._http.post(self._gateway, content=content, headers={"Content-Type": FORM_TYPE})

        response = await self._retry.run(once, idempotent=idempotent)
        if response.status_code >= 500:
            raise inconclusive(f"HTTP {response.status_code}", f"HTTP_{response.status_code}")
        if response.status_code != 200:
            raise ConfigurationError(
                f"Alipay gave an unexpected answer (HTTP {response.status_code}) — check the gateway URL.",
                code=f"HTTP_{response.status_code}",
            )
        try:
            text = response.content.decode(CHARSET)
            if method == OAUTH_TOKEN and _unsigned_code_invalid(text):
                # Alipay answers a bad auth_code with an unsigned error_response (empty sign): believed
                # only as "start the authorization again", which is what a forger could force anyway.
                raise OAuthCodeInvalid("The Alipay sign-in expired — scan the code again.", code="isv.code-invalid")
            signed = verify_response(text, method, self._public_key, charset=CHARSET)
            data = json.loads(signed)
        except (UnicodeDecodeError, EnvelopeError, ValueError) as exc:
            log.warning("Alipay %s answer unreadable: %s", method, exc)
            raise inconclusive("unreadable answer", "UNREADABLE") from None
        except SignatureInvalid as exc:
            log.warning("Alipay %s answer refused: %s", method, exc)
            raise ResponseVerificationError(
                "Alipay's answer failed signature verification — the result is being checked.",
                code="RESPONSE_SIGNATURE",
            ) from None
        if not isinstance(data, dict):
            raise inconclusive("unexpected answer", "UNREADABLE")
        return data

    @staticmethod
    def _error(data: Mapping[str, Any]) -> GatewayError:
        code = str(data.get("code", ""))
        sub_code = str(data.get("sub_code", ""))
        label = sub_code or code
        if code == codes.UNKNOWN or sub_code in codes.UNKNOWN_SUB_CODES:
            return inconclusive(label, label or "UNKNOWN")
        if code in codes.CONFIGURATION_CODES or sub_code in codes.CONFIGURATION_SUB_CODES:
            return ConfigurationError(
                f"Alipay refused the request as misconfigured ({label}) — contact the administrator.", code=label
            )
        if code == codes.BUSINESS_FAILED:
            if sub_code == codes.TRADE_NOT_EXIST:
                return OrderNotFound("Alipay has no such order.", code=sub_code)
            return DefiniteFailure(codes.refusal_reason(sub_code), code=label)
        return inconclusive(f"code {code[:16]!r}", label or "UNKNOWN")

    # ---------------------------------------------------------------- payments

    async def create_native(
        self, *, out_trade_no: str, amount_fen: int, subject: str, notify_url: str, expires_at: datetime
    ) -> NativeOrder:
        biz = {
            "out_trade_no": out_trade_no,
            "total_amount": fen_to_yuan(amount_fen),
            "subject": subject[:256],
            "product_code": "FACE_TO_FACE_PAYMENT",
            "time_expire": expires_at.astimezone(CHINA_TZ).strftime(TIME_FORMAT),
        }
        # Replays with the same out_trade_no and identical fields are the same order.
        data = await self._call("alipay.trade.precreate", biz, idempotent=True, notify_url=notify_url)
        if data.get("code") != codes.SUCCESS:
            raise self._error(data)
        qr_code = data.get("qr_code")
        if not isinstance(qr_code, str) or not qr_code:
            raise inconclusive("no qr_code", "NO_QR_CODE")
        return NativeOrder(out_trade_no=out_trade_no, code_url=qr_code, expires_at=expires_at)

    async def oauth_token(self, auth_code: str) -> str:
        """``alipay.system.oauth.token``: the buyer's id for a web-authorization ``auth_code`` (single use).

        Decided (spec alipay-jsapi.md §2, open question): ``grant_type`` and ``code`` go top level and no
        ``biz_content`` is sent, as the Java SDK's AlipaySystemOauthTokenRequest.getTextParams() does
        (whether the gateway accepts an empty ``biz_content`` is unconfirmed, so none is sent). Success
        is an ``access_token`` with ``open_id`` and/or ``user_id`` (no ``code`` member); the engine keeps
        whichever id arrives, ``open_id`` first (the openid standard of new apps)."""
        data = await self._call(
            OAUTH_TOKEN, None, idempotent=False, top_level={"grant_type": "authorization_code", "code": auth_code}
        )
        if "code" in data and data.get("code") != codes.SUCCESS:
            sub_code = str(data.get("sub_code", ""))
            if sub_code == "isv.code-invalid":
                raise OAuthCodeInvalid("The Alipay sign-in expired — scan the code again.", code=sub_code)
            raise self._error(data)
        for key in ("open_id", "user_id"):
            value = data.get(key)
            if isinstance(value, str) and 1 <= len(value) <= 128:
                return value
        raise inconclusive("no buyer id", "NO_BUYER_ID")

    async def create_for_buyer(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        expires_at: datetime,
        buyer: str,
    ) -> str:
        """``alipay.trade.create`` bound to ``buyer``; returns Alipay's ``trade_no`` (the bridge's tradeNO).

        Decided (spec alipay-jsapi.md §3, open question): no ``product_code``/``op_app_id`` (the H5
        flow under a 当面付 contract, whose default product code is FACE_TO_FACE_PAYMENT); a 2088… id
        goes as ``buyer_id``, anything else as ``buyer_open_id`` (never assume the 2088 format)."""
        biz: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "total_amount": fen_to_yuan(amount_fen),
            "subject": subject[:256],
            "time_expire": expires_at.astimezone(CHINA_TZ).strftime(TIME_FORMAT),
        }
        biz["buyer_id" if _is_user_id(buyer) else "buyer_open_id"] = buyer
        data = await self._call("alipay.trade.create", biz, idempotent=True, notify_url=notify_url)
        if data.get("code") != codes.SUCCESS:
            raise self._error(data)
        trade_no = data.get("trade_no")
        if not isinstance(trade_no, str) or not trade_no or len(trade_no) > 64:
            raise inconclusive("no trade_no", "NO_TRADE_NO")
        return trade_no

    async def micropay(
        self, *, out_trade_no: str, amount_fen: int, subject: str, auth_code: str, store_id: str, device_id: str
    ) -> TradeResult:
        biz = {
            "out_trade_no": out_trade_no,
            "scene": "bar_code",
            "auth_code": auth_code,
            "subject": subject[:256],
            "total_amount": fen_to_yuan(amount_fen),
            "product_code": "FACE_TO_FACE_PAYMENT",
            "store_id": store_id,
            "terminal_id": device_id,
        }
        log.info("Alipay pay %s for %d fen, code %s", out_trade_no, amount_fen, mask_code(auth_code))
        # Never replayed: an unknown outcome is settled by query, then cancel.
        data = await self._call("alipay.trade.pay", biz, idempotent=False)
        code = data.get("code")
        if code == codes.SUCCESS:
            return TradeResult(
                out_trade_no=out_trade_no,
                state=PaymentState.PAID,
                transaction_id=data.get("trade_no") or None,
                amount_fen=fen_or_none(data.get("total_amount")) or amount_fen,
                paid_at=cst_time(data.get("gmt_payment")),
                gateway_code=codes.SUCCESS,
                raw=data,
            )
        if code == codes.PAYING:
            return TradeResult(
                out_trade_no,
                PaymentState.USER_PAYING,
                transaction_id=data.get("trade_no") or None,
                gateway_code=codes.PAYING,
                raw=data,
            )
        if data.get("sub_code") == codes.TRADE_HAS_SUCCESS:
            return await self.query(out_trade_no)  # paid already (a replayed sale): the query has the details
        raise self._error(data)

    async def query(self, out_trade_no: str) -> TradeResult:
        """TRADE_NOT_EXIST raises OrderNotFound: for a precreate (native) order it means the QR has
        not been scanned yet (spec §3.1) and the caller treats it as AWAITING_SCAN."""
        data = await self._call("alipay.trade.query", {"out_trade_no": out_trade_no}, idempotent=True)
        if data.get("code") != codes.SUCCESS:
            raise self._error(data)
        if data.get("out_trade_no") not in (None, out_trade_no):
            raise ResponseVerificationError(
                "Alipay answered about another order — the result is being checked.", code="ORDER_MISMATCH"
            )
        return trade_status_result(data, out_trade_no=out_trade_no)

    async def close(self, out_trade_no: str) -> TradeResult:
        data = await self._call("alipay.trade.close", {"out_trade_no": out_trade_no}, idempotent=True)
        if data.get("code") == codes.SUCCESS:
            return TradeResult(
                out_trade_no,
                PaymentState.CLOSED,
                transaction_id=data.get("trade_no") or None,
                gateway_code="TRADE_CLOSED",
                raw=data,
            )
        sub_code = data.get("sub_code")
        if sub_code == codes.TRADE_STATUS_ERROR:
            # Not closable: paid (or already closed). The query says which.
            return await self.query(out_trade_no)
        if sub_code == codes.TRADE_NOT_EXIST:
            # A never-scanned precreate has no Alipay trade to close; cancel forbids a later payment.
            cancelled = await self.reverse(out_trade_no)
            if cancelled.done:
                return TradeResult(out_trade_no, PaymentState.CLOSED, gateway_code=codes.TRADE_NOT_EXIST, raw=data)
            raise inconclusive("cancel asked to retry", "RETRY_CANCEL")
        raise self._error(data)

    async def reverse(self, out_trade_no: str) -> ReverseResult:
        data = await self._call("alipay.trade.cancel", {"out_trade_no": out_trade_no}, idempotent=True)
        if data.get("code") != codes.SUCCESS:
            raise self._error(data)
        retry = data.get("retry_flag") == "Y"
        return ReverseResult(out_trade_no, done=not retry, retry=retry, money_returned=data.get("action") == "refund")

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
        biz: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "refund_amount": fen_to_yuan(amount_fen),
            "out_request_no": out_refund_no,
        }
        if reason:
            biz["refund_reason"] = reason[:256]
        # Replays reuse out_request_no: Alipay answers the same refund (fund_change N).
        data = await self._call("alipay.trade.refund", biz, idempotent=True, notify_url=notify_url)
        if data.get("code") != codes.SUCCESS:
            raise self._error(data)
        return RefundResult(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            state=RefundState.SUCCESS,
            amount_fen=amount_fen,
            refunded_total_fen=fen_or_none(data.get("refund_fee")),
            raw=data,
        )

    async def refund_query(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        """REFUND_SUCCESS → SUCCESS; no refund_status means Alipay has no such refund (not received
        or failed, spec §3.7): OrderNotFound, and a replay with the same out_request_no is safe."""
        biz = {"out_trade_no": out_trade_no, "out_request_no": out_refund_no}
        data = await self._call("alipay.trade.fastpay.refund.query", biz, idempotent=True)
        if data.get("code") != codes.SUCCESS:
            raise self._error(data)
        if data.get("refund_status") != "REFUND_SUCCESS":
            raise OrderNotFound("Alipay has no such refund.", code="REFUND_NOT_FOUND")
        return RefundResult(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            state=RefundState.SUCCESS,
            amount_fen=fen_or_none(data.get("refund_amount")) or 0,
            raw=data,
        )

    # ---------------------------------------------------------------- notifications

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Form body raw bytes → verified Notification, or NotificationInvalid."""
        return self._notifications.parse(body)

    def ack(self, ok: bool) -> NotificationAck:
        """Alipay reads the body: exactly ``success``, anything else makes it re-send."""
        if ok:
            return NotificationAck(200, b"success", "text/plain")
        return NotificationAck(400, b"fail", "text/plain")

    # ---------------------------------------------------------------- bills

    async def download_bill(self, bill_date: date) -> bytes:
        """The trade bill ZIP of ``bill_date`` (GBK CSV entries; parsing is reconcile's job)."""
        biz = {"bill_type": "trade", "bill_date": bill_date.isoformat()}
        data = await self._call("alipay.data.dataservice.bill.downloadurl.query", biz, idempotent=True)
        if data.get("code") != codes.SUCCESS:
            raise self._error(data)
        url = data.get("bill_download_url")
        if not isinstance(url, str) or not url:
            raise inconclusive("no bill_download_url", "BILL_ANSWER")

        async def fetch() -> httpx.Response:
            return await self._http.get(url)

        response = await self._retry.run(fetch, idempotent=True)
        if response.status_code != 200:
            raise inconclusive(f"bill download HTTP {response.status_code}", "BILL_DOWNLOAD")
        if not zipfile.is_zipfile(io.BytesIO(response.content)):
            raise ResponseVerificationError("The Alipay bill is not a ZIP file — download it again.", code="BILL_ZIP")
        return response.content

    async def aclose(self) -> None:
        await self._http.aclose()
