"""The journal's tables (SQLModel). Schema changes go through Alembic (``journal/migrations``).

Money columns are ``*_fen`` integers. Datetimes are time-zone aware (SQLModel stores them as UTC and
returns them in UTC); ``business_day`` is the store's local date of the sale, used by day searches
and reports.
Every row that a person causes carries the cashier's (operator's) name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal.payloads import load_payload


class JournalTable(SQLModel, registry=registry()):
    """Base of every journal table, on the journal's own metadata: the engine ledger has tables of
    the same names (``refunds``) and both can be loaded in one process (tests, the embedded default)."""


class Staff(JournalTable, table=True):
    """A cashier or manager. The PIN is kept only as ``scrypt$n$r$p$salt$hash`` (hashlib.scrypt)."""

    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)  # "cashier" | "manager"
    pin_hash: str = Field(max_length=256)
    active: bool = True
    created_at: datetime


class Counter(JournalTable, table=True):
    """A durable per-terminal counter: order-number sequences ("trade", "refund") and the event seq."""

    __tablename__ = "counters"

    terminal_id: str = Field(primary_key=True, max_length=8)
    name: str = Field(primary_key=True, max_length=32)
    value: int = 0


class Sale(JournalTable, table=True):
    """One sale. ``state`` mirrors its payment attempt; ``refunded_fen`` sums successful refunds."""

    __tablename__ = "sales"

    id: int | None = Field(default=None, primary_key=True)
    out_trade_no: str = Field(unique=True, max_length=32)
    terminal_id: str = Field(index=True, max_length=8)
    store_id: str = Field(max_length=8)
    cashier: str = Field(max_length=64)
    channel: Channel
    mode: PaymentMode
    subject: str = Field(max_length=127)
    amount_fen: int
    state: PaymentState = Field(index=True)
    refunded_fen: int = 0
    transaction_id: str | None = Field(default=None, max_length=64)
    shift_id: int | None = Field(default=None, foreign_key="shifts.id")
    business_day: str = Field(index=True, max_length=10)  # local YYYY-MM-DD
    created_at: datetime
    updated_at: datetime


class SaleLine(JournalTable, table=True):
    __tablename__ = "sale_lines"
    __table_args__ = (UniqueConstraint("sale_id", "line_no"),)

    id: int | None = Field(default=None, primary_key=True)
    sale_id: int = Field(foreign_key="sales.id", index=True)
    line_no: int
    name: str = Field(max_length=127)
    qty: int
    unit_fen: int
    amount_fen: int


class PaymentAttempt(JournalTable, table=True):
    """The payment of a sale under one out_trade_no (kept across retries and restarts)."""

    __tablename__ = "payment_attempts"

    id: int | None = Field(default=None, primary_key=True)
    sale_id: int = Field(foreign_key="sales.id", index=True)
    out_trade_no: str = Field(unique=True, max_length=32)
    channel: Channel
    mode: PaymentMode
    amount_fen: int
    state: PaymentState = Field(index=True)
    transaction_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=255)
    cashier: str = Field(max_length=64)
    created_at: datetime
    updated_at: datetime


class Refund(JournalTable, table=True):
    """Money given back on a paid sale. ``kind`` is "refund", or "void" for a same-day void of a
    wallet sale that the gateway could only carry out as a refund: reports count it as a void."""

    __tablename__ = "refunds"

    id: int | None = Field(default=None, primary_key=True)
    out_refund_no: str = Field(unique=True, max_length=32)
    sale_id: int = Field(foreign_key="sales.id", index=True)
    out_trade_no: str = Field(max_length=32, index=True)
    amount_fen: int
    state: RefundState
    reason: str = Field(default="", max_length=80)
    refund_id: str | None = Field(default=None, max_length=64)
    failure_reason: str | None = Field(default=None, max_length=255)
    cashier: str = Field(max_length=64)
    approved_by: str = Field(max_length=64)  # the manager whose PIN allowed it
    kind: str = Field(default="refund", max_length=8)  # "refund" | "void"
    #: Where the refund was made: "till", or "console" (the manager console, through the engine)
    #: for a refund the till journaled when it heard of it (:mod:`pos_app.journal.refunds_elsewhere`).
    origin: str = Field(default="till", max_length=16)
    created_at: datetime
    updated_at: datetime


class Shift(JournalTable, table=True):
    __tablename__ = "shifts"

    id: int | None = Field(default=None, primary_key=True)
    terminal_id: str = Field(index=True, max_length=8)
    cashier: str = Field(max_length=64)
    opening_float_fen: int
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=64)
    expected_cash_fen: int | None = None
    counted_cash_fen: int | None = None


class CashMovement(JournalTable, table=True):
    """Cash into (+) or out of (-) the drawer: float, sale, refund, void, pay-in, pay-out, drop."""

    __tablename__ = "cash_movements"

    id: int | None = Field(default=None, primary_key=True)
    terminal_id: str = Field(index=True, max_length=8)
    shift_id: int | None = Field(default=None, foreign_key="shifts.id", index=True)
    kind: str = Field(max_length=16)
    amount_fen: int
    out_trade_no: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="", max_length=80)
    cashier: str = Field(max_length=64)
    at: datetime


class JournalEvent(JournalTable, table=True):
    """One append-only event. ``hash`` = SHA-256 of the canonical JSON of
    ``{seq, kind, payload, at, prev_hash}`` (see :mod:`pos_app.journal.events`).

    ``payload_json`` and ``at_text`` are stored exactly as hashed, so verification never depends on
    how a datetime or a dict is re-serialised. ``ref`` (the sale's out_trade_no, if any) is an index
    copied from the payload; verification checks it too.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_ref", "ref"),)

    terminal_id: str = Field(primary_key=True, max_length=8)
    seq: int = Field(primary_key=True)
    kind: str = Field(max_length=32)
    payload_json: str = Field(sa_column=Column(Text, nullable=False))
    at_text: str = Field(max_length=40)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    ref: str | None = Field(default=None, max_length=32)

    @property
    def payload(self) -> dict[str, Any]:
        return load_payload(self.payload_json)

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.at_text)

    def as_upload(self) -> dict[str, Any]:
        """The body of ``pos_app.api.schemas.JournalEvent`` for ``POST /v1/sync/batches``."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "payload": self.payload,
            "at": self.at_text,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class OutboxEntry(JournalTable, table=True):
    """An event not yet acknowledged by the engine. Rows are kept (``sent_at`` set) once acked."""

    __tablename__ = "outbox"
    __table_args__ = (ForeignKeyConstraint(["terminal_id", "seq"], ["events.terminal_id", "events.seq"]),)

    terminal_id: str = Field(primary_key=True, max_length=8)
    seq: int = Field(primary_key=True)
    created_at: datetime
    sent_at: datetime | None = Field(default=None, index=True)


class ZReport(JournalTable, table=True):
    """A day close (Z report): numbered per terminal, one per terminal and business day, immutable.

    ``content_json`` is the full report as canonical JSON and ``content_hash`` its SHA-256; the
    ``day.close`` event records both, so ``pos journal verify`` detects a report edited by hand.
    """

    __tablename__ = "z_reports"
    __table_args__ = (
        UniqueConstraint("terminal_id", "business_day", name="uq_z_reports_day"),
        UniqueConstraint("terminal_id", "number", name="uq_z_reports_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    terminal_id: str = Field(max_length=8)
    number: int
    business_day: str = Field(max_length=10)
    content_json: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(max_length=64)
    closed_by: str = Field(max_length=64)
    closed_at: datetime


class ShiftClose(JournalTable, table=True):
    """The blind count that closed a shift, per payment method, and the manager's sign-off.

    Cash is counted by denomination (``counts_json``: ``{"10000": 2, ...}``); wallet totals are what
    the cashier read off the wallet's merchant summary (defaults to the expected figure).
    """

    __tablename__ = "shift_closes"

    shift_id: int = Field(primary_key=True, foreign_key="shifts.id")
    terminal_id: str = Field(max_length=8)
    counts_json: str = Field(sa_column=Column(Text, nullable=False))
    cash_expected_fen: int
    cash_counted_fen: int
    wechat_expected_fen: int
    wechat_counted_fen: int
    alipay_expected_fen: int
    alipay_counted_fen: int
    counted_by: str = Field(max_length=64)
    counted_at: datetime
    signed_off_by: str | None = Field(default=None, max_length=64)
    signed_off_at: datetime | None = None
    note: str = Field(default="", max_length=80)


class PinGuard(JournalTable, table=True):
    """Wrong PINs in a row for one person (``who`` = the staff name), or for PIN-only sign-ins at this
    till (``who`` = ""), and the lockout they led to. A right PIN clears the count; a manager clears
    a lockout (journaled as ``staff.unlocked``)."""

    __tablename__ = "pin_guards"

    who: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    last_failure_at: datetime | None = None
    locked_at: datetime | None = None
