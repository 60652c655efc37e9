"""Verified notifications applied inside the writer's transaction: inbox dedupe, transition, event, mark.

Payment notifications are plain SQL (``store.hotpath``): through the ORM, building and executing
their statements cost more CPU than verifying them. Refund notifications go through the ORM
(``refunds.apply_refund_in``). Both use the same state machine as every other path
(``trades.trade_changes``) and raise :class:`StaleRow` when another process won a race. A
notification that fails the checks of :mod:`~pos_app.engine.notify.checks` is recorded with the
outcome ``flagged`` and its reasons, and changes nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session

from pos_app.engine.context import Clock
from pos_app.engine.notify.checks import FLAGGED, payment_refusals, refund_refusals
from pos_app.engine.notify.records import DUPLICATE, flag_inbox, inbox_values
from pos_app.engine.providers.base import Notification, TradeResult
from pos_app.engine.refunds import apply_refund_in
from pos_app.engine.store import repo
from pos_app.engine.store.hotpath import HotPath, dbapi_cursor, hot_path
from pos_app.engine.store.rows import PaymentRow
from pos_app.engine.store.transactions import StaleRow
from pos_app.engine.trades import log_transition, trade_changes

log = logging.getLogger(__name__)

#: A verified notification and the raw body it came in.
Item = tuple[Notification, bytes]


def apply_notifications(session: Session, conn: Connection, items: Sequence[Item], clock: Clock) -> list[str]:
    """Insert inbox row + apply transition + status event + mark applied, for each item, inside the
    caller's transaction. Returns each item's outcome (a state, "ignored", "unknown-order",
    :data:`DUPLICATE`, ...)."""
    outcomes: list[str] = []
    sql = hot_path(conn)
    cursor = dbapi_cursor(conn)
    try:
        if all(n.kind == "payment" and n.trade is not None for n, _ in items):
            return _payment_batch(conn, sql, cursor, items, clock)
        for n, body in items:
            now = clock()
            values = inbox_values(n, body, now)
            inbox_id = sql.insert_inbox(cursor, values)
            if inbox_id is None:
                found = sql.find_inbox(cursor, values["channel"], values["event_id"])
                assert found is not None
                inbox_id, applied = found
                if applied:
                    outcomes.append(DUPLICATE)
                    continue
            outcome, reasons = _apply_one(session, sql, cursor, n, clock)
            sql.mark_inbox_applied(cursor, inbox_id, outcome, now)
            if reasons:
                flag_inbox(conn, inbox_id, n, reasons)
            outcomes.append(outcome)
    finally:
        cursor.close()
    return outcomes


def _payment_batch(conn: Connection, sql: HotPath, cursor: Any, items: Sequence[Item], clock: Clock) -> list[str]:
    """:func:`apply_notifications` for a batch of payment notifications, with a few statements per
    batch instead of five per notification.

    Why: at hundreds of notifications a second, issuing and binding five statements each cost more
    CPU than verifying them, and on PostgreSQL each was a round trip from a worker thread that then
    waited for the GIL again (two workers: p99 over a second). The batch's payment rows are read and
    locked first, then its inbox rows are read, every notification is decided in memory in arrival
    order (dedupe on (channel, event id), the state machine, one status event per change), and each
    table is written with one executemany: each changed payment once, compare-and-set on the version
    read. The rows end up exactly as the one-by-one path leaves them.

    Why it is safe with other writers: on SQLite the transaction holds the only write lock (BEGIN
    IMMEDIATE). On PostgreSQL the payments are locked ``FOR UPDATE`` in id order before the inbox is
    read, so another worker applying the same event to the same payment has either committed (its
    inbox row is seen: a duplicate) or waits for this transaction. A notification for an order the
    ledger does not have locks nothing: if another worker inserted the same event meanwhile, the
    inbox insert fails, this transaction rolls back and the writer writes the batch one by one."""
    now = clock()
    stamp = sql.bind_datetime(now)
    keys = [(n.channel.value, n.event_id[:128]) for n, _ in items]
    rows = sql.payments_many(cursor, [n.trade.out_trade_no for n, _ in items if n.trade], lock=True)
    recorded = sql.find_inbox_many(cursor, keys)
    read_as: dict[str, tuple[int, int]] = {}  # changed payments: out_trade_no -> (row id, version read)
    changed: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    new_inbox: list[dict[str, Any]] = []
    marks: list[tuple[int, str]] = []
    flags: list[tuple[int, Notification, list[str]]] = []  # recorded earlier, flagged now
    outcomes: list[str] = []
    for (n, body), key in zip(items, keys, strict=True):
        seen = recorded.get(key)
        if seen is not None and seen[1]:
            outcomes.append(DUPLICATE)
            continue
        assert n.trade is not None
        otn = n.trade.out_trade_no
        row = rows.get(otn)
        reasons = payment_refusals(n, n.trade, row)
        if reasons:
            outcome = _flagged(n, reasons)
        elif row is None:
            log.warning("%s notification %s for unknown order %s", n.channel.value, n.event_id, n.out_trade_no)
            outcome = "unknown-order"
        else:
            changes = trade_changes(row, n.trade, now)
            if changes:
                after = _changed(row, changes, now)
                read_as.setdefault(otn, (row.id, row.version))
                changed.setdefault(otn, {}).update(changes)
                event = repo.event_values(repo.payment_view(after), now)
                events.append({**event, "created_at": stamp})
                log_transition(otn, row.state, after.state, _source(n))
                rows[otn] = row = after
            outcome = row.state
        if seen is None:
            values = inbox_values(n, body, now, reasons)
            values.update(
                parsed=sql.bind_parsed(values["parsed"]), received_at=stamp, applied_at=stamp, outcome=outcome[:64]
            )
            new_inbox.append(values)
        else:
            marks.append((seen[0], outcome))
            if reasons:
                flags.append((seen[0], n, reasons))
        recorded[key] = (seen[0] if seen else 0, True)  # a repeat later in this batch is a duplicate
        outcomes.append(outcome)
    updates = [(ident, version, changed[otn], rows[otn].version) for otn, (ident, version) in read_as.items()]
    if not sql.update_payments(cursor, updates, stamp):
        raise StaleRow()
    sql.insert_events_many(cursor, events)
    sql.insert_inbox_applied(cursor, new_inbox)
    sql.mark_inbox_applied_many(cursor, marks, stamp)
    for inbox_id, n, reasons in flags:
        flag_inbox(conn, inbox_id, n, reasons)
    return outcomes


def _apply_one(session: Session, sql: HotPath, cursor: Any, n: Notification, clock: Clock) -> tuple[str, list[str]]:
    """Apply one notification; returns (outcome, why it was flagged instead: empty if it was not)."""
    source = _source(n)
    if n.kind == "payment" and n.trade is not None:
        row = sql.payment(cursor, n.trade.out_trade_no, lock=True)
        reasons = payment_refusals(n, n.trade, row)
        if reasons:
            return _flagged(n, reasons), reasons
        if row is None:
            log.warning("%s notification %s for unknown order %s", n.channel.value, n.event_id, n.out_trade_no)
            return "unknown-order", []
        return _apply_trade_row(sql, cursor, row, n.trade, source, clock), []
    if n.kind == "refund" and n.refund is not None:
        found = repo.get_refund(session, n.refund.out_refund_no)
        payment = repo.get_payment(session, found.out_trade_no) if found is not None else None
        reasons = refund_refusals(n, payment)
        if reasons:
            return _flagged(n, reasons), reasons
        r = apply_refund_in(session, n.refund, source, clock())
        if r is None:
            log.warning("%s refund notification %s for unknown refund", n.channel.value, n.event_id)
            return "unknown-refund", []
        session.flush()
        return f"refund {r.state}", []
    if n.problems:
        return _flagged(n, list(n.problems)), list(n.problems)
    log.info("%s notification %s (%s) acknowledged, nothing to apply", n.channel.value, n.event_id, n.event_type)
    return "ignored", []


def _flagged(n: Notification, reasons: Sequence[str]) -> str:
    log.error(
        "%s notification %s (%s) about %s kept for attention, not applied: %s",
        n.channel.value,
        n.event_id,
        n.event_type,
        n.out_trade_no,
        "; ".join(reasons),
        extra={"out_trade_no": n.out_trade_no, "needs_attention": True},
    )
    return FLAGGED


def _apply_trade_row(sql: HotPath, cursor: Any, row: PaymentRow, result: TradeResult, source: str, clock: Clock) -> str:
    """``trades.apply_trade`` in plain SQL inside the caller's transaction, on the payment row read
    (locked) by the caller: the same state machine, compare-and-set on version and status event.
    Returns the payment's state afterwards."""
    now = clock()
    changes = trade_changes(row, result, now)
    if not changes:
        return row.state
    if not sql.cas_update_payment(cursor, row.id, row.version, changes, now):
        raise StaleRow()
    after = _changed(row, changes, now)
    sql.insert_event(cursor, repo.event_values(repo.payment_view(after), now))
    log_transition(result.out_trade_no, row.state, after.state, source)
    return after.state


def _changed(row: PaymentRow, changes: dict[str, Any], now: datetime) -> PaymentRow:
    """The row as a compare-and-set with ``changes`` leaves it."""
    return row.replaced({**changes, "version": row.version + 1, "updated_at": now})


def _source(n: Notification) -> str:
    return f"notify {n.event_type}".strip()
