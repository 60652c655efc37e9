"""Refunds: reserve against what is left, send once per refund number, settle PROCESSING ones.

The same out_refund_no again is the same refund (sending it again is safe: the gateway keeps one
refund per number). A SUCCESS adds the amount to the payment exactly once, in the transaction that
moves the refund; a refund still PROCESSING is polled by a background task, then by the resolver.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from pos_app.api.schemas import CreateRefund, RefundView
from pos_app.domain.ids import check_gateway_safe
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import (
    MONEY_IN_STATES,
    REFUND_TRANSITIONS,
    SETTLED_STATES,
    PaymentState,
    RefundState,
    can_transition,
)
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import IdempotencyConflict, PaymentStateError, RefundAmountError, RefundNotFound
from pos_app.engine.providers.base import ConfigurationError, DefiniteFailure, OrderNotFound, RefundResult
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment, Refund
from pos_app.engine.store.transactions import StaleRow
from pos_app.engine.trades import short_error

log = logging.getLogger(__name__)

#: A refund still PROCESSING is polled by its background task this many times (every poll interval).
REFUND_POLLS = 12


def is_open(refund: Refund) -> bool:
    """Not known yet to have succeeded or failed."""
    return refund.state in repo.OPEN_REFUND_STATES


def _conflict(out_refund_no: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"Refund number {out_refund_no} was already used for a different refund — use a new one."
    )


def apply_refund_in(session: Session, result: RefundResult, source: str, now: datetime) -> Refund | None:
    """Apply a gateway refund answer inside the caller's transaction (raises StaleRow on a lost race).

    None if the ledger has no such refund."""
    found = repo.get_refund(session, result.out_refund_no)
    if found is None:
        return None
    # Lock order everywhere: payment, then refund.
    p = repo.get_payment(session, found.out_trade_no, lock=True)
    r = repo.get_refund(session, result.out_refund_no, lock=True)
    assert p is not None and r is not None
    current, target = RefundState(r.state), result.state
    if result.amount_fen and result.amount_fen != r.amount_fen:
        log.error("refund %s: gateway amount differs from the ledger — ignored", r.out_refund_no)
        return r
    if current == target or target not in REFUND_TRANSITIONS[current]:
        if (
            result.refund_id
            and not r.refund_id
            and not repo.cas_update_refund(session, r, {"refund_id": result.refund_id}, now)
        ):
            raise StaleRow()
        return r
    if target == RefundState.UNKNOWN and current == RefundState.PROCESSING:
        return r
    changes: dict[str, Any] = {"state": target.value}
    if result.refund_id:
        changes["refund_id"] = result.refund_id
    if target == RefundState.FAILED:
        changes["failure_reason"] = (result.reason or "The refund was refused by the gateway.")[:255]
    if target == RefundState.SUCCESS:
        changes["succeeded_at"] = now
    if not repo.cas_update_refund(session, r, changes, now):
        raise StaleRow()
    # The refund that held the payment's flag is settled: nothing is left for a person to chase.
    clear_flag = (
        target in (RefundState.SUCCESS, RefundState.FAILED)
        and p.needs_attention
        and PaymentState(p.state) in SETTLED_STATES
        and not repo.open_refunds_of(session, p.out_trade_no)
    )
    if clear_flag and not repo.cas_update_payment(session, p, {"needs_attention": False}, now):
        raise StaleRow()
    if target == RefundState.SUCCESS:
        refunded = p.refunded_fen + r.amount_fen
        new_state = PaymentState.REFUNDED if refunded >= p.amount_fen else PaymentState.PARTIALLY_REFUNDED
        if can_transition(PaymentState(p.state), new_state):
            if not repo.cas_update_payment(session, p, {"refunded_fen": refunded, "state": new_state.value}, now):
                raise StaleRow()
        else:
            log.error("refund %s succeeded but payment %s is %s", r.out_refund_no, p.out_trade_no, p.state)
            if not repo.cas_update_payment(session, p, {"needs_attention": True}, now):
                raise StaleRow()
    repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(r))
    log.info(
        "refund %s %s -> %s (%s)",
        r.out_refund_no,
        current,
        target,
        source,
        extra={"out_refund_no": r.out_refund_no, "from_state": current, "to_state": target, "source": source},
    )
    return r


class Refunds:
    """Refund use cases: create (idempotent per out_refund_no), read, and settle."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def create_refund(self, terminal_id: str, out_trade_no: str, req: CreateRefund) -> RefundView:
        """Refund part or all of a PAID payment. The same out_refund_no again is the same refund."""
        ctx = self._ctx
        check_gateway_safe(req.out_refund_no)
        await ctx.load_for_terminal(terminal_id, out_trade_no)
        now = ctx.now()

        def reserve(session: Session) -> tuple[Refund, Payment, bool]:
            p = repo.get_payment(session, out_trade_no, lock=True)
            assert p is not None
            existing = repo.get_refund(session, req.out_refund_no, lock=True)
            if existing is not None:
                if existing.out_trade_no != out_trade_no or existing.amount_fen != req.amount_fen:
                    raise _conflict(req.out_refund_no)
                return existing, p, False
            if PaymentState(p.state) not in MONEY_IN_STATES:
                raise PaymentStateError(f"Only paid payments can be refunded (this one is {p.state}).")
            left = p.amount_fen - repo.reserved_refund_fen(session, out_trade_no)
            if req.amount_fen > left:
                raise RefundAmountError(
                    f"{format_fen(req.amount_fen)} is more than the {format_fen(max(left, 0))} left to refund."
                )
            refund = Refund(
                out_refund_no=req.out_refund_no,
                out_trade_no=out_trade_no,
                terminal_id=p.terminal_id,
                amount_fen=req.amount_fen,
                reason=req.reason,
                operator=req.operator,
                state=RefundState.PENDING.value,
                business_day=ctx.business_day(now),
                created_at=now,
                updated_at=now,
            )
            session.add(refund)
            session.flush()
            repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(refund))
            return refund, p, True

        try:
            refund, payment, created = await ctx.tx.mutate(reserve)
        except IntegrityError:
            existing = await self._load_refund(req.out_refund_no)
            if existing.out_trade_no != out_trade_no or existing.amount_fen != req.amount_fen:
                raise _conflict(req.out_refund_no) from None
            return repo.refund_view(existing)
        log.info(
            "refund %s of %s: %s by %s%s",
            refund.out_refund_no,
            out_trade_no,
            format_fen(refund.amount_fen),
            req.operator,
            "" if created else " (repeat)",
        )
        if refund.state in (RefundState.PENDING.value, RefundState.UNKNOWN.value):
            # Sending again with the same out_refund_no is safe: the gateway keeps one refund per number.
            refund = await self._send_refund(refund, payment)
        orn = refund.out_refund_no
        if refund.state in (RefundState.PROCESSING.value, RefundState.UNKNOWN.value) and not ctx.tasks.driving(orn):
            ctx.tasks.spawn(orn, lambda: self._drive_refund(orn))
        return repo.refund_view(refund)

    async def get_refund(self, terminal_id: str, out_trade_no: str, out_refund_no: str) -> RefundView:
        refund = await self._load_refund(out_refund_no)
        if refund.terminal_id != terminal_id or refund.out_trade_no != out_trade_no:
            raise RefundNotFound()
        return repo.refund_view(refund)

    async def settle_refund(self, refund: Refund) -> Refund:
        """Ask the gateway about an open refund and apply the answer (send it if it never arrived)."""
        ctx = self._ctx
        payment = await ctx.load_payment(refund.out_trade_no)
        provider = ctx.provider(Channel(payment.channel))
        otn, orn = refund.out_trade_no, refund.out_refund_no
        try:
            result = await provider.refund_query(out_trade_no=otn, out_refund_no=orn)
        except OrderNotFound:
            await ctx.attempt(otn, "refund_query", "not_found", out_refund_no=orn)
            if refund.state in (RefundState.PENDING.value, RefundState.UNKNOWN.value):
                return await self._send_refund(refund, payment)  # it never arrived: send it (same number)
            return refund
        except Exception as exc:
            await ctx.attempt(otn, "refund_query", "unknown", short_error(exc), out_refund_no=orn)
            await self._note_unresolved(orn)
            return refund
        await ctx.attempt(otn, "refund_query", result.state.value.lower(), out_refund_no=orn)
        return await self._apply(result, "refund_query") or refund

    async def _load_refund(self, out_refund_no: str) -> Refund:
        refund = await self._ctx.tx.read(repo.get_refund, out_refund_no)
        if refund is None:
            raise RefundNotFound()
        return refund

    async def _send_refund(self, refund: Refund, payment: Payment) -> Refund:
        ctx = self._ctx
        provider = ctx.provider(Channel(payment.channel))
        otn, orn = refund.out_trade_no, refund.out_refund_no
        try:
            result = await provider.refund(
                out_trade_no=otn,
                out_refund_no=orn,
                amount_fen=refund.amount_fen,
                total_fen=payment.amount_fen,
                reason=refund.reason,
                notify_url=ctx.notify_url(provider.channel),
            )
        except (DefiniteFailure, ConfigurationError, OrderNotFound) as exc:
            await ctx.attempt(otn, "refund", "failed", short_error(exc), out_refund_no=orn)
            result = RefundResult(otn, orn, RefundState.FAILED, refund.amount_fen, reason=exc.reason)
        except Exception as exc:
            await ctx.attempt(otn, "refund", "unknown", short_error(exc), out_refund_no=orn)
            await self._note_unresolved(orn)
            result = RefundResult(otn, orn, RefundState.UNKNOWN, refund.amount_fen)
        else:
            await ctx.attempt(otn, "refund", result.state.value.lower(), out_refund_no=orn)
        return await self._apply(result, "refund") or refund

    async def _apply(self, result: RefundResult, source: str) -> Refund | None:
        """Apply a gateway refund answer in its own transaction."""

        def apply(session: Session) -> Refund | None:
            return apply_refund_in(session, result, source, self._ctx.now())

        return await self._ctx.tx.mutate(apply)

    async def _note_unresolved(self, out_refund_no: str) -> None:
        """Count an unanswered refund call; after ``attention_after`` flag its payment for a person."""
        ctx = self._ctx

        def bump(session: Session) -> Payment | None:
            session.exec(
                update(Refund)
                .where(col(Refund.out_refund_no) == out_refund_no)
                .values(failed_checks=Refund.failed_checks + 1)
            )
            r = repo.get_refund(session, out_refund_no)
            if r is None or r.failed_checks < ctx.timings.attention_after:
                return None
            p = repo.get_payment(session, r.out_trade_no, lock=True)
            if p is None or p.needs_attention:
                return None
            now = ctx.now()
            if not repo.cas_update_payment(session, p, {"needs_attention": True}, now):
                raise StaleRow()
            repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(r))
            return p

        flagged = await ctx.tx.mutate(bump)
        if flagged is not None:
            log.warning("refund %s of %s still unconfirmed: needs attention", out_refund_no, flagged.out_trade_no)

    async def _drive_refund(self, out_refund_no: str) -> None:
        for _ in range(REFUND_POLLS):
            await self._ctx.sleep(self._ctx.timings.poll_interval_s)
            refund = await self._load_refund(out_refund_no)
            if not is_open(refund):
                return
            refund = await self.settle_refund(refund)
            if not is_open(refund):
                return
