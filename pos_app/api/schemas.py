"""The engine HTTP API's request and response bodies (DESIGN.md §4).

Shared by the server (`engine/server.py`) and the terminal's client (`api/client.py`), so the two
cannot drift. Pure pydantic: no keys, no I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, StrictInt, field_serializer

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState

TRADE_NO_PATTERN = r"^[0-9A-Za-z]{6,32}$"


def _reveal(pin: SecretStr | None) -> str | None:
    """A PIN in the signed JSON body; everywhere else (repr, logs, model_dump) it stays masked."""
    return None if pin is None else pin.get_secret_value()


class VoidKind(StrEnum):
    """How a same-day void of a paid payment returned the money."""

    REVERSED = "reversed"  # the gateway reversed the payment itself (WeChat payment-code orders)
    REFUNDED = "refunded"  # only a refund was possible: show it as "void (refunded)", not as a refund


class ActivateRequest(BaseModel):
    activation_code: str = Field(min_length=8, max_length=128)
    store_id: str = Field(min_length=1, max_length=6)
    terminal_id: str = Field(min_length=1, max_length=4)
    name: str = Field("", max_length=64)


class ActivateResponse(BaseModel):
    terminal_id: str
    store_id: str
    terminal_key: str  # base64url HMAC key; shown once, stored by the terminal (0600)


class CreatePayment(BaseModel):
    out_trade_no: str = Field(pattern=TRADE_NO_PATTERN)
    # StrictInt: an amount is a JSON integer; "100", 1.0 and true are refused, not coerced.
    amount_fen: StrictInt = Field(gt=0, le=100_000_000_00)
    mode: PaymentMode
    channel: Channel | None = Field(
        None, description="Required for native; derived from auth_code for micropay; omitted for one_qr."
    )
    auth_code: str | None = Field(None, max_length=64, description="The customer's payment code (micropay).")
    subject: str = Field(min_length=1, max_length=127)
    operator: str = Field(min_length=1, max_length=64)


class PaymentView(BaseModel):
    out_trade_no: str
    terminal_id: str
    #: None only for a one_qr order whose page no wallet has opened yet; set once a wallet opens it.
    channel: Channel | None
    mode: PaymentMode
    amount_fen: int
    subject: str
    operator: str
    state: PaymentState
    code_url: str | None = None
    expires_at: datetime | None = None  # native QR expiry
    deadline_at: datetime | None = None  # micropay: when the engine stops waiting and reverses
    transaction_id: str | None = None
    masked_auth_code: str | None = None
    failure_reason: str | None = None  # cashier-readable
    refunded_fen: int = 0
    needs_attention: bool = False  # could not be settled automatically: the manager must look
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None = None
    void_kind: VoidKind | None = None  # set once a paid payment was voided


class CancelPayment(BaseModel):
    operator: str = Field(min_length=1, max_length=64)
    reason: str = Field("", max_length=80)
    # A void (cancel of a PAID payment) needs a manager the engine knows; a cancel in flight does not.
    approver: str | None = Field(None, min_length=1, max_length=64, description="The approving manager's name.")
    approver_pin: SecretStr | None = Field(None, min_length=1, max_length=12, description="That manager's PIN.")

    @field_serializer("approver_pin", when_used="json")
    def _pin_on_the_wire(self, pin: SecretStr | None) -> str | None:
        return _reveal(pin)


class CreateRefund(BaseModel):
    out_refund_no: str = Field(pattern=TRADE_NO_PATTERN)
    amount_fen: StrictInt = Field(gt=0)
    reason: str = Field("", max_length=80)
    operator: str = Field(min_length=1, max_length=64)
    # Checked by the engine for a new refund (a repeat of the same out_refund_no is the same refund).
    approver: str | None = Field(None, min_length=1, max_length=64, description="The approving manager's name.")
    approver_pin: SecretStr | None = Field(None, min_length=1, max_length=12, description="That manager's PIN.")

    @field_serializer("approver_pin", when_used="json")
    def _pin_on_the_wire(self, pin: SecretStr | None) -> str | None:
        return _reveal(pin)


class RefundView(BaseModel):
    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    state: RefundState
    refund_id: str | None = None
    failure_reason: str | None = None
    send_at: datetime | None = None  # refused for frequency by the gateway: sent again by itself then
    note: str | None = None  # cashier-readable: why the refund waits and until when
    # Who made it ("console:<user>" for the manager console) and the manager the engine checked:
    # a till journals a refund of its sale made elsewhere with them.
    operator: str | None = None
    approved_by: str | None = None
    created_at: datetime
    updated_at: datetime


class PaymentEvent(BaseModel):
    """One item of the `GET /v1/events` stream (SSE `id` = `event_id`)."""

    event_id: int
    type: Literal["payment", "refund"]
    payment: PaymentView
    refund: RefundView | None = None


class JournalEvent(BaseModel):
    seq: StrictInt = Field(gt=0)
    kind: str
    payload: dict[str, object]
    at: datetime
    prev_hash: str
    hash: str


class SyncBatch(BaseModel):
    events: list[JournalEvent] = Field(max_length=1000)
    # The till's newest journal seq; None from tills older than this field (the console shows "—").
    head_seq: int | None = Field(default=None, ge=0)


class SyncAck(BaseModel):
    acked_seq: int  # highest contiguous seq the engine holds for this terminal


class StoreCodeRequest(BaseModel):
    rotate: bool = False  # issue a new code; the old printed one stops taking payments


class StoreCode(BaseModel):
    """The till's printed store QR (台卡): a customer who scans it types the amount and pays this till."""

    store_id: str
    terminal_id: str
    url: str  # what the QR encodes: under the engine's public_url
    created_at: datetime


class PaymentList(BaseModel):
    payments: list[PaymentView]


class ChannelTotals(BaseModel):
    channel: Channel
    count: int
    amount_fen: int
    refunded_fen: int


class FlaggedNotification(BaseModel):
    """A gateway-signed notification kept and never applied: it contradicts the order it names."""

    channel: Channel
    event_id: str
    event_type: str
    out_trade_no: str | None
    received_at: datetime
    reasons: list[str]  # what did not match, e.g. "amount ¥0.01 differs from the order's ¥25.00"


class DailyReport(BaseModel):
    date: str
    terminal_id: str | None
    totals: list[ChannelTotals]
    unsettled: list[PaymentView]
    #: Notifications about the day's payments that were kept for a person to look at, not applied.
    flagged_notifications: list[FlaggedNotification] = Field(default_factory=list)


class ChannelStatus(BaseModel):
    """Whether new payments can be taken on a wallet channel now (its circuit breaker)."""

    channel: Channel
    state: Literal["closed", "open", "half_open"]  # closed: working; open: failing fast; half_open: probing
    available: bool  # new payments are accepted on it
    message: str | None = None  # for the cashier when not available: what happened and what to do
    retry_after_s: int | None = None  # when the engine next tries the gateway again


class ChannelsView(BaseModel):
    channels: list[ChannelStatus]
    #: The engine can serve one code for every wallet (mode one_qr): public URL and web OAuth configured
    #: and both channels available. When False, creating a one_qr payment answers 409 one_qr_unavailable
    #: and the till shows the per-channel codes instead.
    one_qr: bool = False
    one_qr_message: str | None = None  # for the cashier when one_qr is False: why, in their language


class ErrorBody(BaseModel):
    """Every 4xx/5xx of the engine API: a stable code and a message a cashier can act on."""

    code: str
    message: str
