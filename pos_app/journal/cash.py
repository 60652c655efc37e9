"""Cash at the till: cash sales, same-day voids of cash sales, and pay-ins, pay-outs and drops.

Each function takes a Session and **never commits** (see :mod:`pos_app.journal.sales`). Every change
moves the drawer (:mod:`pos_app.journal.drawer`) and appends one event with the movement's snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from pos_app.domain.errors import AmountError, InputError
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, advance
from pos_app.journal.clock import aware
from pos_app.journal.days import open_business_day
from pos_app.journal.drawer import add_movement
from pos_app.journal.errors import JournalError
from pos_app.journal.events import append_event
from pos_app.journal.models import CashMovement, Sale
from pos_app.journal.sales import LineIn, get_attempt, insert_sale, new_out_trade_no, require_sale, sale_amount_fen
from pos_app.journal.snapshots import CASH_MOVEMENT, SALE, cash_movement_snapshot, sale_snapshot

#: Drawer movement kinds a cashier records by hand, with the sign applied to the amount.
MANUAL_CASH_KINDS: dict[str, int] = {"pay_in": 1, "pay_out": -1, "drop": -1}


def record_cash_sale(
    session: Session,
    *,
    terminal_id: str,
    store_id: str,
    cashier: str,
    subject: str,
    at: datetime,
    amount_fen: int | None = None,
    lines: Sequence[LineIn] | None = None,
    tendered_fen: int | None = None,
    out_trade_no: str | None = None,
) -> Sale:
    """A completed cash sale (state PAID) with its drawer movement, in one event. Works offline.

    ``out_trade_no`` is generated from the "trade" counter when not given.
    """
    total = sale_amount_fen(amount_fen, lines)
    if tendered_fen is not None and tendered_fen < total:
        raise AmountError("The cash tendered is less than the amount due.")
    number = out_trade_no or new_out_trade_no(session, store_id=store_id, terminal_id=terminal_id, at=at)
    new = insert_sale(
        session,
        terminal_id=terminal_id,
        store_id=store_id,
        cashier=cashier,
        out_trade_no=number,
        channel=Channel.CASH,
        mode=PaymentMode.CASH,
        subject=subject,
        amount_fen=total,
        lines=lines,
        state=PaymentState.PAID,
        at=at,
    )
    movement = add_movement(
        session, terminal_id=terminal_id, kind="sale", amount_fen=total, cashier=cashier, at=at, out_trade_no=number
    )
    payload: dict[str, Any] = {
        "cashier": cashier,
        "out_trade_no": number,
        "tendered_fen": tendered_fen,
        "change_fen": None if tendered_fen is None else tendered_fen - total,
        SALE: sale_snapshot(session, new.sale, lines=new.lines, attempt=new.attempt),
        CASH_MOVEMENT: cash_movement_snapshot(movement),
    }
    append_event(session, terminal_id, "sale.cash", payload, at)
    return new.sale


def void_cash_sale(
    session: Session, out_trade_no: str, *, cashier: str, approved_by: str, at: datetime, reason: str = ""
) -> Sale:
    """Same-day void of a PAID cash sale: state REVERSED, cash paid back out. The ``sale.voided``
    event names the approving manager (``approved_by``) and the ``reason``.

    Only a sale of the business day still open can be voided: a closed day's figures never change.
    """
    sale = require_sale(session, out_trade_no)
    if sale.channel != Channel.CASH:
        raise JournalError("Wallet payments are voided through the engine (cancel), not here.")
    if sale.state != PaymentState.PAID:
        raise JournalError(f"Only a paid sale without refunds can be voided; this one is {sale.state.value}.")
    if not approved_by:
        raise InputError("A void needs the approving manager's name.")
    if sale.business_day != open_business_day(session, sale.terminal_id, at):
        raise JournalError(f"Only today's sales can be voided ({sale.business_day} is over) — use a refund instead.")
    attempt = get_attempt(session, out_trade_no)
    assert attempt is not None
    when = aware(at)
    advance(PaymentState(sale.state), PaymentState.REVERSED)
    sale.state = attempt.state = PaymentState.REVERSED
    attempt.reason = reason or "voided"
    sale.updated_at = attempt.updated_at = when
    session.add(sale)
    session.add(attempt)
    movement = add_movement(
        session,
        terminal_id=sale.terminal_id,
        kind="void",
        amount_fen=-sale.amount_fen,
        cashier=cashier,
        at=at,
        out_trade_no=out_trade_no,
        reason=reason,
    )
    payload: dict[str, Any] = {
        "cashier": cashier,
        "approved_by": approved_by,
        "out_trade_no": out_trade_no,
        "reason": reason,
        SALE: sale_snapshot(session, sale),
        CASH_MOVEMENT: cash_movement_snapshot(movement),
    }
    append_event(session, sale.terminal_id, "sale.voided", payload, at)
    return sale


def record_cash_movement(
    session: Session, *, terminal_id: str, kind: str, amount_fen: int, cashier: str, at: datetime, reason: str = ""
) -> CashMovement:
    """A pay-in, pay-out or drop; ``amount_fen`` is positive, the sign comes from ``kind``."""
    if kind not in MANUAL_CASH_KINDS:
        raise InputError(f"Unknown cash movement {kind!r} (use {', '.join(MANUAL_CASH_KINDS)}).")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise AmountError("The amount must be more than zero.")
    movement = add_movement(
        session,
        terminal_id=terminal_id,
        kind=kind,
        amount_fen=MANUAL_CASH_KINDS[kind] * amount_fen,
        cashier=cashier,
        at=at,
        reason=reason,
    )
    append_event(
        session, terminal_id, "cash.movement", {"cashier": cashier, CASH_MOVEMENT: cash_movement_snapshot(movement)}, at
    )
    return movement
