"""A gateway's answer about a payment applied to its ledger row: state machine, compare-and-set, event.

Every state change goes through the domain state machine and is applied with a compare-and-set on
the payment row (``store.repo``), in the same transaction as the status event the terminals' event
stream reads. With several engine processes on one PostgreSQL exactly one applies each change.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from pos_app.domain.money import format_fen
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState, can_transition
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import PaymentNotFound
from pos_app.engine.providers.base import TradeResult
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment
from pos_app.engine.store.rows import PaymentRecord
from pos_app.engine.store.transactions import StaleRow

log = logging.getLogger(__name__)


def trade_changes(p: PaymentRecord, r: TradeResult, now: datetime) -> dict[str, Any] | None:
    """What a gateway answer changes on the payment row (None: nothing — a repeat or a stale answer)."""
    current = PaymentState(p.state)
    target = r.state
    if target in (PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED):
        target = PaymentState.PAID  # refunds are tracked by the refunds table
    if target == PaymentState.AWAITING_SCAN and p.mode == PaymentMode.MICROPAY.value:
        target = PaymentState.USER_PAYING
    if target == PaymentState.UNKNOWN and current not in (PaymentState.CREATED, PaymentState.SUBMITTED):
        return None  # "don't know" adds nothing to what we know
    if target == PaymentState.PAID and r.amount_fen is not None and r.amount_fen != p.amount_fen:
        log.error(
            "payment %s: gateway says %s paid, ledger expects %s — flagged",
            p.out_trade_no,
            format_fen(r.amount_fen),
            format_fen(p.amount_fen),
        )
        if p.needs_attention:
            return None
        return {"needs_attention": True, "failure_reason": "The gateway reports a different amount — check it."}
    if current == target:
        fill: dict[str, Any] = {}
        if r.transaction_id and not p.transaction_id:
            fill["transaction_id"] = r.transaction_id
        if target == PaymentState.PAID and r.paid_at and not p.paid_at:
            fill["paid_at"] = r.paid_at
        return fill or None
    if can_transition(current, target):
        changes: dict[str, Any] = {"state": target.value}
        if r.transaction_id:
            changes["transaction_id"] = r.transaction_id
        if r.gateway_code:
            changes["gateway_code"] = r.gateway_code[:64]
        if target == PaymentState.PAID:
            changes["paid_at"] = r.paid_at or now
            changes["failure_reason"] = None
        elif target == PaymentState.FAILED:
            changes["failure_reason"] = (r.reason or "The payment failed — ask for another payment method.")[:255]
        elif target == PaymentState.CLOSED:
            changes["failure_reason"] = (r.reason or "The order was closed unpaid.")[:255]
        elif target == PaymentState.REVERSED:
            changes["failure_reason"] = (r.reason or "Cancelled — no money was taken.")[:255]
        if target in SETTLED_STATES and current not in SETTLED_STATES:
            changes["needs_attention"] = False
            changes["lease_until"] = None
        return changes
    if target == PaymentState.PAID and current in (PaymentState.CLOSED, PaymentState.FAILED):
        # The gateway took money for an order we consider over: a person must refund it.
        log.error("payment %s is %s in the ledger but PAID at the gateway — flagged", p.out_trade_no, current)
        if p.needs_attention:
            return None
        changes = {"needs_attention": True, "failure_reason": "Paid after it was closed — refund the customer."}
        if r.transaction_id:
            changes["transaction_id"] = r.transaction_id
        return changes
    log.info("payment %s: ignoring stale %s (ledger %s)", p.out_trade_no, target.value, current.value)
    return None


def log_transition(out_trade_no: str, before: str, after: str, source: str) -> None:
    if after != before:
        log.info(
            "payment %s %s -> %s (%s)",
            out_trade_no,
            before,
            after,
            source,
            extra={"out_trade_no": out_trade_no, "from_state": before, "to_state": after, "source": source},
        )


async def apply_trade(ctx: EngineContext, out_trade_no: str, result: TradeResult, source: str) -> Payment:
    """Apply a gateway answer in its own transaction; returns the payment as it is afterwards."""

    def apply(session: Session) -> Payment:
        p = repo.get_payment(session, out_trade_no, lock=True)
        if p is None:
            raise PaymentNotFound()
        before = p.state
        now = ctx.now()
        changes = trade_changes(p, result, now)
        if not changes:
            return p
        if not repo.cas_update_payment(session, p, changes, now):
            raise StaleRow()
        repo.append_event(session, repo.payment_view(p), now)
        log_transition(out_trade_no, before, p.state, source)
        return p

    return await ctx.tx.mutate(apply)


async def note_unresolved(ctx: EngineContext, out_trade_no: str) -> None:
    """Count a call that ended without a definite answer; flag the payment after ``attention_after``."""

    def bump(session: Session) -> Payment | None:
        session.exec(
            update(Payment)
            .where(col(Payment.out_trade_no) == out_trade_no)
            .values(failed_checks=Payment.failed_checks + 1)
        )
        p = repo.get_payment(session, out_trade_no, lock=True)
        if p is None or p.needs_attention or p.failed_checks < ctx.timings.attention_after:
            return None
        if PaymentState(p.state) in SETTLED_STATES:
            return None
        now = ctx.now()
        if not repo.cas_update_payment(session, p, {"needs_attention": True}, now):
            raise StaleRow()
        repo.append_event(session, repo.payment_view(p), now)
        return p

    flagged = await ctx.tx.mutate(bump)
    if flagged is not None:
        log.warning(
            "payment %s still %s after %d unanswered checks: needs attention",
            out_trade_no,
            flagged.state,
            flagged.failed_checks,
            extra={"out_trade_no": out_trade_no, "needs_attention": True, "state": flagged.state},
        )


def short_error(exc: BaseException) -> str:
    """An exception as an attempt detail: the gateway code and class, never request data."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"
