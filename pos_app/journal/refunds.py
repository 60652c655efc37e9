"""Refunds of paid sales: numbering, recording (wallet PENDING or cash SUCCESS), their states; and
same-day voids of wallet sales that the gateway carries out as a refund.

Each function takes a Session and **never commits** (see :mod:`pos_app.journal.sales`). A successful
refund moves its sale to PARTIALLY_REFUNDED or REFUNDED; a cash refund pays out of the drawer at once.
A successful void moves its sale to REVERSED, so reports count it as a void, not as a sale and refund.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from pos_app.domain.errors import AmountError, InputError
from pos_app.domain.ids import make_out_refund_no
from pos_app.domain.routing import Channel
from pos_app.domain.states import MONEY_IN_STATES, PaymentState, RefundState, advance, advance_refund
from pos_app.journal.clock import aware, now
from pos_app.journal.days import open_business_day
from pos_app.journal.drawer import add_movement
from pos_app.journal.errors import JournalError
from pos_app.journal.events import append_event, next_seq
from pos_app.journal.models import Refund, Sale
from pos_app.journal.sales import get_attempt, require_sale
from pos_app.journal.snapshots import (
    CASH_MOVEMENT,
    REFUND,
    SALE,
    cash_movement_snapshot,
    refund_snapshot,
    sale_snapshot,
)

#: Refund states whose outcome is not known yet.
OPEN_REFUND_STATES = (RefundState.PENDING, RefundState.PROCESSING, RefundState.UNKNOWN)
#: ``Refund.kind``: money given back on a sale, or a void the gateway carries out as a refund.
PLAIN_REFUND, VOID = "refund", "void"


def new_out_refund_no(session: Session, *, store_id: str, terminal_id: str, at: datetime) -> str:
    """A fresh out_refund_no from the durable "refund" counter (commit it with the refund that uses it)."""
    seq = next_seq(session, terminal_id, "refund")
    return make_out_refund_no(store=store_id, terminal=terminal_id, seq=seq, at=aware(at))


def get_refund(session: Session, out_refund_no: str) -> Refund | None:
    return session.exec(select(Refund).where(Refund.out_refund_no == out_refund_no)).first()


def sale_refunds(session: Session, out_trade_no: str) -> list[Refund]:
    statement = select(Refund).where(Refund.out_trade_no == out_trade_no).order_by(col(Refund.id))
    return list(session.exec(statement).all())


def refundable_fen(session: Session, sale: Sale) -> int:
    """What can still be refunded: paid amount minus successful and in-flight refunds."""
    in_flight = sum(
        refund.amount_fen
        for refund in sale_refunds(session, sale.out_trade_no)
        if refund.state not in (RefundState.SUCCESS, RefundState.FAILED)
    )
    return sale.amount_fen - sale.refunded_fen - in_flight


def _apply_refund_success(session: Session, sale: Sale, refund: Refund, at: datetime) -> None:
    if refund.kind == VOID:
        # The sale is undone, not refunded: REVERSED like a cash void, its money was never kept.
        target = PaymentState.REVERSED
    else:
        sale.refunded_fen += refund.amount_fen
        target = PaymentState.REFUNDED if sale.refunded_fen >= sale.amount_fen else PaymentState.PARTIALLY_REFUNDED
    advance(PaymentState(sale.state), target)
    sale.state = target
    sale.updated_at = aware(at)
    attempt = get_attempt(session, sale.out_trade_no)
    if attempt is not None:
        attempt.state = target
        attempt.updated_at = aware(at)
        session.add(attempt)
    session.add(sale)
    session.flush()


def record_refund(
    session: Session,
    *,
    out_trade_no: str,
    amount_fen: int,
    cashier: str,
    approved_by: str,
    at: datetime,
    reason: str = "",
    out_refund_no: str | None = None,
    state: RefundState = RefundState.PENDING,
) -> Refund:
    """Record a refund of a paid sale (manager ``approved_by``). Wallet refunds start PENDING (commit,
    then call the engine, then :func:`record_refund_state`); cash refunds pass ``state=SUCCESS`` and
    pay the cash out of the drawer at once. ``out_refund_no`` is generated when not given.
    """
    sale = require_sale(session, out_trade_no)
    if sale.state not in MONEY_IN_STATES:
        raise JournalError(f"Sale {out_trade_no} is {sale.state.value}: there is no payment to refund.")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise AmountError("The refund amount must be more than zero.")
    if amount_fen > refundable_fen(session, sale):
        raise AmountError("The refund is more than what is left to refund on this sale.")
    if state not in (RefundState.PENDING, RefundState.SUCCESS):
        raise ValueError("a refund starts PENDING (wallet) or SUCCESS (cash)")
    if state == RefundState.SUCCESS and sale.channel != Channel.CASH:
        raise JournalError("Wallet refunds start PENDING and are settled by the engine.")
    return write_refund(
        session, sale, amount_fen, cashier=cashier, approved_by=approved_by, at=at, reason=reason,
        out_refund_no=out_refund_no, state=state, kind=PLAIN_REFUND,
    )  # fmt: skip


def record_wallet_void(
    session: Session,
    out_trade_no: str,
    *,
    cashier: str,
    approved_by: str,
    reason: str,
    at: datetime,
    out_refund_no: str | None = None,
) -> Refund:
    """Record the void of a paid wallet sale of the open business day that the gateway can only carry
    out as a full refund (Alipay after the payment; WeChat once a cancel is no longer possible).

    It is a refund row of kind "void", PENDING: commit, ask the engine for the refund, then
    :func:`record_refund_state`. On SUCCESS the sale becomes REVERSED and the X/Z reports count it
    as a void — never as a sale and a refund. The event names the approving manager and the reason.
    """
    sale = require_sale(session, out_trade_no)
    if sale.channel == Channel.CASH:
        raise JournalError("A cash sale is voided with void_cash_sale (the cash goes back at once).")
    if sale.state != PaymentState.PAID or refundable_fen(session, sale) != sale.amount_fen:
        raise JournalError(f"Only a paid sale without refunds can be voided; this one is {sale.state.value}.")
    if not approved_by:
        raise InputError("A void needs the approving manager's name.")
    if not reason.strip():
        raise InputError("Say why the sale is voided.")
    if sale.business_day != open_business_day(session, sale.terminal_id, at):
        raise JournalError(f"Only today's sales can be voided ({sale.business_day} is over) — use a refund instead.")
    return write_refund(
        session, sale, sale.amount_fen, cashier=cashier, approved_by=approved_by, at=at, reason=reason,
        out_refund_no=out_refund_no, state=RefundState.PENDING, kind=VOID,
    )  # fmt: skip


def write_refund(
    session: Session,
    sale: Sale,
    amount_fen: int,
    *,
    cashier: str,
    approved_by: str,
    at: datetime,
    reason: str,
    out_refund_no: str | None,
    state: RefundState,
    kind: str,
    origin: str = "till",
) -> Refund:
    """Write a checked refund or void with its event (and, for cash, its drawer movement).
    ``origin``: "till", or where a refund the till heard of was made (journal/refunds_elsewhere.py)."""
    when = aware(at)
    number = out_refund_no or new_out_refund_no(session, store_id=sale.store_id, terminal_id=sale.terminal_id, at=at)
    assert sale.id is not None
    refund = Refund(
        out_refund_no=number,
        sale_id=sale.id,
        out_trade_no=sale.out_trade_no,
        amount_fen=amount_fen,
        state=state,
        reason=reason[:80],
        cashier=cashier,
        approved_by=approved_by,
        kind=kind,
        origin=origin,
        created_at=when,
        updated_at=when,
    )
    session.add(refund)
    session.flush()
    payload: dict[str, Any] = {
        "cashier": cashier,
        "approved_by": approved_by,
        "out_trade_no": sale.out_trade_no,
        "out_refund_no": number,
    }
    if kind == VOID:
        payload["reason"] = reason
    if state == RefundState.SUCCESS:
        _apply_refund_success(session, sale, refund, at)
        movement = add_movement(
            session,
            terminal_id=sale.terminal_id,
            kind="refund",
            amount_fen=-amount_fen,
            cashier=cashier,
            at=at,
            out_trade_no=sale.out_trade_no,
            reason=reason,
        )
        payload[CASH_MOVEMENT] = cash_movement_snapshot(movement)
    payload[REFUND] = refund_snapshot(refund)
    payload[SALE] = sale_snapshot(session, sale)
    append_event(session, sale.terminal_id, "refund.created", payload, at)
    return refund


def record_refund_state(
    session: Session,
    out_refund_no: str,
    state: RefundState,
    *,
    cashier: str,
    refund_id: str | None = None,
    failure_reason: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Move a wallet refund to ``state``; on SUCCESS the sale becomes PARTIALLY_REFUNDED / REFUNDED.
    False for a harmless repeat.
    """
    refund = get_refund(session, out_refund_no)
    if refund is None:
        raise JournalError(f"No refund {out_refund_no} in this journal.")
    previous = RefundState(refund.state)
    if not advance_refund(previous, state):
        return False
    sale = session.get(Sale, refund.sale_id)
    assert sale is not None
    when = aware(at or now())
    refund.state = state
    if refund_id:
        refund.refund_id = refund_id
    if failure_reason is not None:
        refund.failure_reason = failure_reason[:255]
    refund.updated_at = when
    session.add(refund)
    session.flush()
    if state == RefundState.SUCCESS:
        _apply_refund_success(session, sale, refund, when)
    payload: dict[str, Any] = {
        "cashier": cashier,
        "out_trade_no": refund.out_trade_no,
        "out_refund_no": out_refund_no,
        "from": previous.value,
        "to": state.value,
        REFUND: refund_snapshot(refund),
        SALE: sale_snapshot(session, sale),
    }
    append_event(session, sale.terminal_id, "refund.state", payload, when)
    return True


def unsettled_refunds(session: Session) -> list[Refund]:
    """Refunds whose outcome is not known yet, oldest first: to be resolved by asking the engine."""
    statement = select(Refund).where(col(Refund.state).in_(OPEN_REFUND_STATES))
    return list(session.exec(statement.order_by(col(Refund.id))).all())
