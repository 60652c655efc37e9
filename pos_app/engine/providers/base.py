"""What the engine's use cases need from a gateway, whatever the gateway.

Each provider client (wechatpay/, alipay/) implements :class:`PaymentProvider` and maps every gateway
answer onto these typed results or errors. The service layer never sees a gateway's field names.

Mapping rule (DESIGN.md §5): a definite answer becomes a result (or DefiniteFailure); anything whose
outcome is not known (timeout, connection lost, 5xx, SYSTEM_ERROR, Alipay 20000/ACQ.SYSTEM_ERROR)
raises OutcomeUnknownError so that the caller settles it by query, then cancel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from pos_app.domain.errors import PosError
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState


class GatewayError(PosError):
    """Base of the provider error tree. ``reason`` is cashier-readable; ``code`` is the gateway's."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class DefiniteFailure(GatewayError):
    """The gateway definitely refused; no money moved (e.g. NOTENOUGH, AUTHCODEEXPIRE, ACQ.*)."""


class OAuthCodeInvalid(DefiniteFailure):
    """A wallet's web-authorization code cannot be exchanged (used, expired, another app): the page
    starts the authorization again."""


class OutcomeUnknownError(GatewayError):
    """Timeout, lost connection, 5xx, SYSTEM_ERROR, Alipay 20000: query before deciding anything."""


class OrderNotFound(GatewayError):
    """The gateway has no such order (WeChat ORDER_NOT_EXIST, Alipay ACQ.TRADE_NOT_EXIST)."""


class ConfigurationError(GatewayError):
    """Signature refused, wrong mchid/app id, no permission: an operator must fix the configuration."""


class ResponseVerificationError(OutcomeUnknownError):
    """A gateway response failed signature verification: treated like an unknown outcome.

    (Subclass of OutcomeUnknownError so that ``except OutcomeUnknownError`` settles it by query.)
    """


class NotificationInvalid(PosError):
    """A notification that must be refused (bad signature, stale, undecryptable, malformed)."""

    def __init__(self, reason: str, *, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class TradeResult:
    """The gateway's view of one payment. ``state`` uses the domain state machine's vocabulary.

    USER_PAYING: the customer must still confirm; AWAITING_SCAN: a native order exists, unpaid
    (WeChat NOTPAY, Alipay WAIT_BUYER_PAY after scan or never scanned).
    """

    out_trade_no: str
    state: PaymentState
    transaction_id: str | None = None
    amount_fen: int | None = None
    paid_at: datetime | None = None
    reason: str | None = None  # cashier-readable, for FAILED
    gateway_code: str | None = None  # e.g. "NOTENOUGH", "ACQ.BUYER_BALANCE_NOT_ENOUGH"
    refunded_fen: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NativeOrder:
    out_trade_no: str
    code_url: str  # weixin://wxpay/bizpayurl?pr=… or https://qr.alipay.com/…
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ReverseResult:
    """Outcome of WeChat reverse / Alipay cancel. ``retry`` True means call it again (retry_flag=Y)."""

    out_trade_no: str
    done: bool
    retry: bool = False
    money_returned: bool = False  # Alipay action=refund: the trade had been paid


@dataclass(frozen=True, slots=True)
class RefundResult:
    out_trade_no: str
    out_refund_no: str
    state: RefundState
    amount_fen: int
    refund_id: str | None = None
    refunded_total_fen: int | None = None
    reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified, decrypted gateway notification."""

    channel: Channel
    event_id: str  # WeChat envelope id / Alipay notify_id
    kind: Literal["payment", "refund", "other"]
    out_trade_no: str | None
    trade: TradeResult | None = None
    refund: RefundResult | None = None
    event_type: str = ""  # TRANSACTION.SUCCESS, REFUND.SUCCESS, TRADE_SUCCESS, …
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: Why this gateway-signed notification must not be applied (another merchant, no amount, an event
    #: type its resource contradicts…). A signature proves who sent it, not that it is about our order
    #: as we know it: such a notification is kept in the inbox for the manager, never applied.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotificationAck:
    """The exact HTTP answer the gateway expects."""

    status_code: int
    body: bytes
    media_type: str


class PaymentProvider(Protocol):
    channel: Channel

    async def create_native(
        self, *, out_trade_no: str, amount_fen: int, subject: str, notify_url: str, expires_at: datetime
    ) -> NativeOrder: ...

    async def micropay(
        self, *, out_trade_no: str, amount_fen: int, subject: str, auth_code: str, store_id: str, device_id: str
    ) -> TradeResult: ...

    async def query(self, out_trade_no: str) -> TradeResult: ...

    async def close(self, out_trade_no: str) -> TradeResult:
        """Close an unpaid native order. Returns CLOSED, or PAID when the gateway says it was paid."""
        ...

    async def reverse(self, out_trade_no: str) -> ReverseResult:
        """Reverse (WeChat) / cancel (Alipay) a micropay order, paid or not."""
        ...

    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str | None,
    ) -> RefundResult: ...

    async def refund_query(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification: ...

    def ack(self, ok: bool) -> NotificationAck: ...

    async def download_bill(self, bill_date: date) -> bytes:
        """The raw bill file (WeChat: uncompressed CSV bytes after SHA1 check; Alipay: the ZIP bytes)."""
        ...

    async def aclose(self) -> None: ...
