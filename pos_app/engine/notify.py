"""Gateway notifications: raw body → size check → verify + decrypt → record + apply → acknowledge.

DESIGN.md §6/§7: the body is refused above a size limit *before* anything parses it; the provider
verifies the signature over the raw bytes (and the time window) and decrypts; then ONE transaction
writes the verified notification to the durable inbox (unique on channel + event id), applies it
through the payment state machine (compare-and-set, status event) and marks the inbox row applied.
Only after that transaction committed is the notification acknowledged. The service shares one
commit (one fsync) between the notifications arriving together (group commit, see
``PaymentService.handle_notification``). A duplicate finds its inbox row already applied and changes
nothing; if the apply fails, the inbox row alone is recorded un-applied, the gateway gets an error
(and sends again), and the resolver applies the row later (:func:`pending` +
:func:`notification_from_record`).

The hot-path helpers (:func:`insert_inbox`, :func:`find_inbox`, :func:`mark_inbox_applied`) are SQL
Core statements on the caller's connection; :func:`record` / :func:`mark_applied` are the same on an
ORM session.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.providers.base import (
    Notification,
    NotificationAck,
    NotificationInvalid,
    PaymentProvider,
    RefundResult,
    TradeResult,
)
from pos_app.engine.store.models import InboxNotification

log = logging.getLogger(__name__)

T = TypeVar("T")
DbRunner = Callable[..., Awaitable[Any]]
#: Record + apply + mark applied in one committed transaction; returns the outcome (or "duplicate").
Store = Callable[[Notification, bytes], Awaitable[str]]
INBOX: Table = InboxNotification.__table__  # type: ignore[attr-defined]
#: What applying a notification did, stored on its inbox row (e.g. "PAID", "ignored", "unknown-order").
Applier = Callable[[Notification], Awaitable[str]]


def trade_to_record(trade: TradeResult) -> dict[str, Any]:
    return {
        "out_trade_no": trade.out_trade_no,
        "state": trade.state.value,
        "transaction_id": trade.transaction_id,
        "amount_fen": trade.amount_fen,
        "paid_at": trade.paid_at.isoformat() if trade.paid_at else None,
        "reason": trade.reason,
        "gateway_code": trade.gateway_code,
        "refunded_fen": trade.refunded_fen,
    }


def trade_from_record(data: Mapping[str, Any]) -> TradeResult:
    return TradeResult(
        out_trade_no=data["out_trade_no"],
        state=PaymentState(data["state"]),
        transaction_id=data.get("transaction_id"),
        amount_fen=data.get("amount_fen"),
        paid_at=datetime.fromisoformat(data["paid_at"]) if data.get("paid_at") else None,
        reason=data.get("reason"),
        gateway_code=data.get("gateway_code"),
        refunded_fen=int(data.get("refunded_fen") or 0),
    )


def refund_to_record(refund: RefundResult) -> dict[str, Any]:
    return {
        "out_trade_no": refund.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "state": refund.state.value,
        "amount_fen": refund.amount_fen,
        "refund_id": refund.refund_id,
        "refunded_total_fen": refund.refunded_total_fen,
        "reason": refund.reason,
    }


def refund_from_record(data: Mapping[str, Any]) -> RefundResult:
    return RefundResult(
        out_trade_no=data["out_trade_no"],
        out_refund_no=data["out_refund_no"],
        state=RefundState(data["state"]),
        amount_fen=int(data["amount_fen"]),
        refund_id=data.get("refund_id"),
        refunded_total_fen=data.get("refunded_total_fen"),
        reason=data.get("reason"),
    )


def notification_to_record(n: Notification) -> dict[str, Any]:
    """The parsed notification as JSON, enough to apply it again without re-verifying."""
    return {
        "trade": trade_to_record(n.trade) if n.trade else None,
        "refund": refund_to_record(n.refund) if n.refund else None,
    }


def notification_from_record(row: InboxNotification) -> Notification:
    kind: Literal["payment", "refund", "other"] = (
        "payment" if row.kind == "payment" else "refund" if row.kind == "refund" else "other"
    )
    parsed = row.parsed or {}
    return Notification(
        channel=Channel(row.channel),
        event_id=row.event_id,
        kind=kind,
        out_trade_no=row.out_trade_no,
        trade=trade_from_record(parsed["trade"]) if parsed.get("trade") else None,
        refund=refund_from_record(parsed["refund"]) if parsed.get("refund") else None,
        event_type=row.event_type,
    )


def record(session: Session, n: Notification, body: bytes, now: datetime) -> tuple[int, bool]:
    """Insert the inbox row unless it exists. Returns (row id, already applied)."""
    existing = session.exec(
        select(InboxNotification).where(
            InboxNotification.channel == n.channel.value, InboxNotification.event_id == n.event_id
        )
    ).first()
    if existing is not None:
        assert existing.id is not None
        return existing.id, existing.applied_at is not None
    row = InboxNotification(
        channel=n.channel.value,
        event_id=n.event_id[:128],
        event_type=n.event_type[:64],
        kind=n.kind,
        out_trade_no=n.out_trade_no,
        body=body.decode("utf-8", "replace"),
        parsed=notification_to_record(n),
        received_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id, False


def inbox_values(n: Notification, body: bytes, now: datetime) -> dict[str, Any]:
    return {
        "channel": n.channel.value,
        "event_id": n.event_id[:128],
        "event_type": n.event_type[:64],
        "kind": n.kind,
        "out_trade_no": n.out_trade_no,
        "body": body.decode("utf-8", "replace"),
        "parsed": notification_to_record(n),
        "received_at": now,
    }


@functools.cache
def _insert_inbox_stmt(dialect_name: str) -> Any:
    dialect = sqlite if dialect_name == "sqlite" else postgresql
    return (
        dialect.insert(INBOX)
        .values({name: bindparam(name) for name in _INBOX_COLUMNS})
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(INBOX.c.id)
    )


_INBOX_COLUMNS = ("channel", "event_id", "event_type", "kind", "out_trade_no", "body", "parsed", "received_at")
_FIND_INBOX = core_select(INBOX.c.id, INBOX.c.applied_at).where(
    INBOX.c.channel == bindparam("w_channel"), INBOX.c.event_id == bindparam("w_event_id")
)
_MARK_INBOX = (
    update(INBOX)
    .where(INBOX.c.id == bindparam("w_id"), INBOX.c.applied_at.is_(None))
    .values(applied_at=bindparam("v_at"), outcome=bindparam("v_outcome"))
)


def insert_inbox(conn: Connection, n: Notification, body: bytes, now: datetime) -> int | None:
    """Insert the inbox row; None if (channel, event id) is already there (or being inserted: on
    PostgreSQL the insert waits for the other transaction and then does nothing)."""
    inserted = conn.execute(_insert_inbox_stmt(conn.dialect.name), inbox_values(n, body, now)).scalar()
    return None if inserted is None else int(inserted)


def find_inbox(conn: Connection, n: Notification) -> tuple[int, bool] | None:
    """(row id, already applied) of the notification's inbox row, if recorded."""
    row = conn.execute(_FIND_INBOX, {"w_channel": n.channel.value, "w_event_id": n.event_id[:128]}).first()
    return None if row is None else (int(row.id), row.applied_at is not None)


def mark_inbox_applied(conn: Connection, inbox_id: int, outcome: str, now: datetime) -> None:
    conn.execute(_MARK_INBOX, {"w_id": inbox_id, "v_at": now, "v_outcome": outcome[:64]})


def mark_applied(session: Session, inbox_id: int, outcome: str, now: datetime) -> None:
    row = session.get(InboxNotification, inbox_id)
    if row is not None and row.applied_at is None:
        row.applied_at = now
        row.outcome = outcome[:64]
        session.add(row)


def pending(session: Session, received_before: datetime, limit: int = 200) -> list[InboxNotification]:
    """Recorded but not applied (the apply failed or the process stopped in between)."""
    stmt = (
        select(InboxNotification)
        .where(col(InboxNotification.applied_at).is_(None), col(InboxNotification.received_at) < received_before)
        .order_by(col(InboxNotification.id))
        .limit(limit)
    )
    return list(session.exec(stmt).all())


def _refusal(provider: PaymentProvider, status_code: int) -> NotificationAck:
    return dataclasses.replace(provider.ack(False), status_code=status_code)


async def process(
    *,
    channel: Channel,
    provider: PaymentProvider | None,
    headers: Mapping[str, str],
    body: bytes,
    max_body_bytes: int,
    db: DbRunner,
    apply: Applier,
    now: Callable[[], datetime],
    store: Store | None = None,
) -> NotificationAck:
    """The whole pipeline for one POST /notify/<channel>. Never raises: always an answer for the gateway.

    With ``store`` (the service's one-transaction writer) the notification is recorded, applied and
    marked in one commit; without it, the older three-step path (``db`` + ``apply``) is used.
    """
    if provider is None:
        log.warning("notification for %s, which is not configured: refused", channel.value)
        return NotificationAck(404, b"", "text/plain")
    if len(body) > max_body_bytes:
        log.warning("%s notification of %d bytes refused (limit %d)", channel.value, len(body), max_body_bytes)
        return _refusal(provider, 413)
    try:
        notification = provider.parse_notification(headers, body)
    except NotificationInvalid as exc:
        # The reason names what failed (signature, window, decryption), never key material.
        log.warning("%s notification refused: %s", channel.value, exc.reason)
        return _refusal(provider, exc.status_code)
    except Exception:
        log.exception("%s notification could not be parsed", channel.value)
        return _refusal(provider, 400)
    if store is not None:
        try:
            outcome = await store(notification, body)
        except Exception:
            # Not acknowledged: the gateway sends it again (and the resolver applies a recorded row).
            log.exception("%s notification %s could not be stored", channel.value, notification.event_id)
            return _refusal(provider, 500)
        if outcome == DUPLICATE:
            log.info("%s notification %s is a duplicate: nothing to do", channel.value, notification.event_id)
        return provider.ack(True)
    try:
        try:
            inbox_id, applied = await db(record, notification, body, now())
        except IntegrityError:  # another process recorded the same event at the same moment
            inbox_id, applied = await db(record, notification, body, now())
        if not applied:
            outcome = await apply(notification)
            await db(mark_applied, inbox_id, outcome, now())
        else:
            log.info("%s notification %s is a duplicate: nothing to do", channel.value, notification.event_id)
    except Exception:
        # Not acknowledged: the gateway sends it again, and the resolver applies the inbox row.
        log.exception("%s notification %s could not be applied", channel.value, notification.event_id)
        return _refusal(provider, 500)
    return provider.ack(True)


RECHECK_INBOX_AFTER = timedelta(seconds=30)
#: The outcome ``store`` returns for a notification already applied before.
DUPLICATE = "duplicate"
