"""Alipay's asynchronous notifications (spec §4): the form as sent, its RSA2 signature, and the checks
that it is about this app and seller before it may change a payment (``Notification.problems``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.domain.routing import Channel
from pos_app.domain.states import RefundState
from pos_app.engine.crypto.rsa import SignatureInvalid
from pos_app.engine.providers.alipay.results import fen_or_none, trade_status_result
from pos_app.engine.providers.alipay.signing import verify_notification
from pos_app.engine.providers.base import (
    Notification,
    NotificationInvalid,
    OutcomeUnknownError,
    RefundResult,
    TradeResult,
)


class NotificationParser:
    """Verifies and checks one app's Alipay notifications."""

    channel = Channel.ALIPAY

    def __init__(self, *, app_id: str, seller_id: str, public_key: rsa.RSAPublicKey) -> None:
        self.app_id = app_id
        self.seller_id = seller_id
        self._public_key = public_key

    def parse(self, body: bytes) -> Notification:
        """Form body raw bytes → verified Notification, or NotificationInvalid."""
        charset = "gbk" if b"charset=gbk" in body.lower() else "utf-8"
        try:
            pairs = parse_qsl(
                body.decode("ascii"), keep_blank_values=True, strict_parsing=True, encoding=charset, errors="strict"
            )
        except (UnicodeDecodeError, ValueError):
            raise NotificationInvalid("notification body is not a URL-encoded form") from None
        params: dict[str, str] = {}
        for key, value in pairs:
            if key in params:
                raise NotificationInvalid(f"notification repeats the field {key[:40]!r}")
            params[key] = value
        if params.get("sign_type", "RSA2") != "RSA2":
            raise NotificationInvalid("notification sign_type is not RSA2", status_code=401)
        try:
            verify_notification(params, self._public_key, charset=charset)
        except SignatureInvalid as exc:
            raise NotificationInvalid(f"notification signature refused: {exc}", status_code=401) from None
        out_trade_no = params.get("out_trade_no") or None
        event_id = params.get("notify_id", "")
        status = params.get("trade_status", "")
        if not out_trade_no or not event_id:
            raise NotificationInvalid("notification without out_trade_no or notify_id")
        try:
            trade = trade_status_result(params, out_trade_no=out_trade_no) if status else None
        except OutcomeUnknownError:
            trade = None
        refund = None
        refunded = fen_or_none(params.get("refund_fee")) or 0
        if params.get("out_biz_no") and refunded:
            refund = RefundResult(
                out_trade_no=out_trade_no,
                out_refund_no=params["out_biz_no"],
                state=RefundState.SUCCESS,
                amount_fen=refunded,  # Alipay notifies the cumulative refund_fee
                refunded_total_fen=refunded,
                raw=params,
            )
        kind: Literal["payment", "refund", "other"] = "refund" if refund else ("payment" if trade else "other")
        return Notification(
            channel=self.channel,
            event_id=event_id,
            kind=kind,
            out_trade_no=out_trade_no,
            trade=trade,
            refund=refund,
            event_type=status,
            raw=params,
            problems=self._problems(params, trade),
        )

    def _problems(self, params: Mapping[str, str], trade: TradeResult | None) -> tuple[str, ...]:
        """Our app and seller, and an amount to check against the order (see Notification.problems)."""
        problems = []
        if params.get("app_id") != self.app_id:
            problems.append(f"app_id {params.get('app_id', '')[:20]!r} is not this merchant's")
        if self.seller_id and params.get("seller_id") != self.seller_id:
            problems.append(f"seller_id {params.get('seller_id', '')[:20]!r} is not this merchant's")
        if trade is not None and trade.amount_fen is None:
            problems.append(f"{params.get('trade_status', '')[:20]} without a valid total_amount")
        if params.get("trade_status") and trade is None:
            problems.append(f"trade_status {params.get('trade_status', '')[:20]!r} not understood")
        return tuple(problems)
