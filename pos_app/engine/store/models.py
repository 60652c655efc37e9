"""The engine ledger's tables (SQLModel on the ledger's own metadata, see base.py).

One row per payment, refund, gateway call, received notification and status event. Rows are never
deleted. A payment's state moves only through the domain state machine, applied with a
compare-and-set on ``(state, version)`` (see :mod:`pos_app.engine.store.repo`) so that with several
engine processes on one database exactly one of them performs each transition.

The full customer payment code is never stored: only its masked form (last 4 digits).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field

from pos_app.engine.store.base import LedgerTable
from pos_app.engine.store.types import UtcDateTime


def _at(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable, index=index)


class Payment(LedgerTable, table=True):
    __tablename__ = "payments"
    # For the managers' console (its Today totals and payment search answer within 200 ms on a
    # million payments: tests/bench/bench_console.py).
    __table_args__ = (
        Index("ix_payments_day_store_state", "business_day", "store_id", "state"),
        Index("ix_payments_created_at", "created_at"),
        Index("ix_payments_store_created_at", "store_id", "created_at"),
        Index("ix_payments_transaction_id", "transaction_id"),
        Index("ix_payments_amount_created_at", "amount_fen", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    out_trade_no: str = Field(max_length=32, unique=True, index=True)
    terminal_id: str = Field(max_length=16, index=True)
    store_id: str = Field(max_length=16)
    channel: str | None = Field(default=None, max_length=16)  # None: a one_qr page no wallet opened yet
    mode: str = Field(max_length=16)
    amount_fen: int = Field(sa_type=BigInteger)
    subject: str = Field(max_length=127)
    operator: str = Field(max_length=64)
    state: str = Field(max_length=24, index=True)
    business_day: str = Field(max_length=10, index=True)  # YYYY-MM-DD in the business time zone
    code_url: str | None = Field(default=None, max_length=512)
    expires_at: datetime | None = _at(nullable=True)
    deadline_at: datetime | None = _at(nullable=True)
    transaction_id: str | None = Field(default=None, max_length=64)
    masked_auth_code: str | None = Field(default=None, max_length=32)
    failure_reason: str | None = Field(default=None, max_length=255)
    gateway_code: str | None = Field(default=None, max_length=64)
    refunded_fen: int = Field(default=0, sa_type=BigInteger)
    needs_attention: bool = Field(default=False)
    cancel_requested: bool = Field(default=False)
    failed_checks: int = Field(default=0)  # settle attempts that ended without a definite answer
    lease_until: datetime | None = _at(nullable=True)  # a process is settling it until then
    lease_owner: str | None = Field(default=None, max_length=64)  # which process (renews while alive)
    void_kind: str | None = Field(default=None, max_length=16)  # a same-day void: "reversed" / "refunded"
    version: int = Field(default=1)
    created_at: datetime = _at()
    updated_at: datetime = _at()
    paid_at: datetime | None = _at(nullable=True)


class Attempt(LedgerTable, table=True):
    """One gateway call made for a payment or refund, and how it ended."""

    __tablename__ = "attempts"

    id: int | None = Field(default=None, primary_key=True)
    out_trade_no: str = Field(max_length=32, index=True)
    out_refund_no: str | None = Field(default=None, max_length=64)
    op: str = Field(max_length=24)  # create_native, micropay, query, close, reverse, refund, refund_query
    outcome: str = Field(max_length=24)  # ok, paid, user_paying, failed, unknown, not_found, retry, error
    detail: str | None = Field(default=None, max_length=255)  # gateway code / state, never a secret
    at: datetime = _at()


class Refund(LedgerTable, table=True):
    __tablename__ = "refunds"

    id: int | None = Field(default=None, primary_key=True)
    out_refund_no: str = Field(max_length=64, unique=True, index=True)
    out_trade_no: str = Field(max_length=32, index=True)
    terminal_id: str = Field(max_length=16, index=True)
    amount_fen: int = Field(sa_type=BigInteger)
    reason: str = Field(default="", max_length=80)
    operator: str = Field(max_length=64)
    state: str = Field(max_length=16, index=True)
    business_day: str = Field(max_length=10, index=True)
    refund_id: str | None = Field(default=None, max_length=64)
    failure_reason: str | None = Field(default=None, max_length=255)
    failed_checks: int = Field(default=0)
    approved_by: str | None = Field(default=None, max_length=64)  # the manager the engine checked
    send_at: datetime | None = _at(nullable=True)  # refused for frequency: sent again at this time
    note: str | None = Field(default=None, max_length=255)  # cashier-readable: why it waits, until when
    version: int = Field(default=1)
    created_at: datetime = _at()
    updated_at: datetime = _at()
    succeeded_at: datetime | None = _at(nullable=True)


class InboxNotification(LedgerTable, table=True):
    """A verified gateway notification, recorded before it is applied and acknowledged."""

    __tablename__ = "notification_inbox"
    __table_args__ = (UniqueConstraint("channel", "event_id", name="uq_inbox_channel_event"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    event_id: str = Field(max_length=128)
    event_type: str = Field(default="", max_length=64)
    kind: str = Field(max_length=16)  # payment, refund, other
    out_trade_no: str | None = Field(default=None, max_length=64, index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the raw verified body
    parsed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = _at()
    applied_at: datetime | None = _at(nullable=True)
    outcome: str | None = Field(default=None, max_length=64)


class StatusEvent(LedgerTable, table=True):
    """A payment/refund status change for one terminal; the SSE stream's durable source."""

    __tablename__ = "status_events"
    __table_args__ = (
        Index("ix_status_events_terminal_id_id", "terminal_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    terminal_id: str = Field(max_length=16)
    type: str = Field(max_length=16)  # payment, refund
    out_trade_no: str = Field(max_length=32)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON {"payment": PaymentView, "refund": …}
    created_at: datetime = _at()


class WalletPage(LedgerTable, table=True):
    """A page the customer's phone opens: one sale's one-QR page, or a till's printed store code.

    The token is the only thing in the QR: unguessable, and all the page needs to find its order or
    till. The payer's id itself is not kept, only a keyed hash (to let the same payer reopen a page).
    """

    __tablename__ = "wallet_pages"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(max_length=16)  # one_qr, store_qr (PaymentMode values)
    store_id: str = Field(max_length=16)
    terminal_id: str = Field(max_length=16, index=True)
    out_trade_no: str | None = Field(default=None, max_length=32, index=True)
    channel: str | None = Field(default=None, max_length=16)  # the wallet that opened a one_qr page
    payer_hash: str | None = Field(default=None, max_length=64)
    bridge_ref: str | None = Field(default=None, max_length=64)  # WeChat prepay_id / Alipay trade_no
    created_at: datetime = _at()
    replaced_at: datetime | None = _at(nullable=True)


class EngineLease(LedgerTable, table=True):
    """A job only one engine process may run at a time (the scheduler), and which process holds it.

    The holder renews ``lease_until`` while it lives; another process takes the row over once it
    lapsed (``store.engine_leases``)."""

    __tablename__ = "engine_leases"

    name: str = Field(primary_key=True, max_length=32)
    owner: str = Field(max_length=64)
    lease_until: datetime = _at()
