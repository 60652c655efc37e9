"""A verified notification as its durable inbox row, and back again (for the resolver)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, update
from sqlmodel import Session, col, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.providers.base import Notification, RefundResult, TradeResult
from pos_app.engine.store.hotpath import INBOX
from pos_app.engine.store.models import InboxNotification

#: The outcome of storing a notification already applied before.
DUPLICATE = "duplicate"
#: A recorded notification still un-applied after this long is applied by the resolver (until then
#: its own request may still be applying it).
RECHECK_INBOX_AFTER = timedelta(seconds=30)
_INBOX_COLUMNS = ("channel", "event_id", "event_type", "kind", "out_trade_no", "body", "parsed", "received_at")


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


def notification_to_record(n: Notification, flagged: Sequence[str] = ()) -> dict[str, Any]:
    """The parsed notification as JSON, enough to apply it again without re-verifying; with
    ``flagged``, why it was kept and not applied."""
    record: dict[str, Any] = {
        "trade": trade_to_record(n.trade) if n.trade else None,
        "refund": refund_to_record(n.refund) if n.refund else None,
        "problems": list(n.problems),
    }
    if flagged:
        record["flagged"] = list(flagged)
    return record


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
        problems=tuple(parsed.get("problems") or ()),
    )


def inbox_values(n: Notification, body: bytes, now: datetime, flagged: Sequence[str] = ()) -> dict[str, Any]:
    """The inbox row's columns for a notification received at ``now`` (``flagged``: see
    :func:`notification_to_record`)."""
    return {
        "channel": n.channel.value,
        "event_id": n.event_id[:128],
        "event_type": n.event_type[:64],
        "kind": n.kind,
        "out_trade_no": n.out_trade_no,
        "body": body.decode("utf-8", "replace"),
        "parsed": notification_to_record(n, flagged),
        "received_at": now,
    }


@functools.cache
def _insert_inbox_stmt(dialect_name: str) -> Any:
    # Imported here: the PostgreSQL dialect's module costs ~40 ms of every engine start on SQLite.
    if dialect_name == "sqlite":
        from sqlalchemy.dialects import sqlite as dialect
    else:
        from sqlalchemy.dialects import postgresql as dialect  # type: ignore[no-redef]
    return (
        dialect.insert(INBOX)
        .values({name: bindparam(name) for name in _INBOX_COLUMNS})
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(INBOX.c.id)
    )


def insert_inbox(conn: Connection, n: Notification, body: bytes, now: datetime) -> int | None:
    """Insert the inbox row, un-applied; None if (channel, event id) is already there (or being
    inserted: on PostgreSQL the insert waits for the other transaction and then does nothing)."""
    inserted = conn.execute(_insert_inbox_stmt(conn.dialect.name), inbox_values(n, body, now)).scalar()
    return None if inserted is None else int(inserted)


def flag_inbox(conn: Connection, inbox_id: int, n: Notification, reasons: Sequence[str]) -> None:
    """Keep why a recorded notification was not applied (its outcome says :data:`checks.FLAGGED`)."""
    conn.execute(update(INBOX).where(INBOX.c.id == inbox_id).values(parsed=notification_to_record(n, reasons)))


def recorded_unapplied(session: Session, received_before: datetime, limit: int = 200) -> list[InboxNotification]:
    """Recorded but not applied (the apply failed or the process stopped in between)."""
    stmt = (
        select(InboxNotification)
        .where(col(InboxNotification.applied_at).is_(None), col(InboxNotification.received_at) < received_before)
        .order_by(col(InboxNotification.id))
        .limit(limit)
    )
    return list(session.exec(stmt).all())
