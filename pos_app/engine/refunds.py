"""Refunds: approve, reserve against what is left, send once per refund number, settle open ones.

A new refund needs a manager's approval the engine checks and must fit today's refund limits
(``approvals``), before any gateway call. The same out_refund_no again is the same refund (sending
it again is safe: the gateway keeps one refund per number). A SUCCESS adds the amount to the payment
exactly once, in the transaction that moves the refund; a refund still PROCESSING is polled by a
background task, then by the resolver. A refund the gateway refused for frequency (WeChat: one per
order per minute) waits with its ``send_at`` and a note saying so, and is sent then by itself.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

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
from pos_app.engine.approvals import Approvals, check_refund_limits
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import IdempotencyConflict, PaymentStateError, RefundAmountError, RefundNotFound
from pos_app.engine.providers.base import (
    ConfigurationError,
    DefiniteFailure,
    OrderNotFound,
    OutcomeUnknownError,
    RefundResult,
)
from pos_app.engine.store import repo
from pos_app.engine.store.models import Attempt, Payment, Refund
from pos_app.engine.store.transactions import StaleRow
from pos_app.engine.trades import short_error

log = logging.getLogger(__name__)

#: A refund still PROCESSING is polled by its background task this many times (every poll interval).
REFUND_POLLS = 12
#: The gateway code of a refund refused because the order had another refund too recently.
FREQUENCY_LIMITED = "FREQUENCY_LIMITED"
#: WeChat Pay: refunds of one order at least a minute apart (spec §4); one second more for clock drift.
REFUND_SPACING = timedelta(seconds=61)


def is_open(refund: Refund) -> bool:
    """Not known yet to have succeeded or failed."""
    return refund.state in repo.OPEN_REFUND_STATES


def void_refund_no(out_trade_no: str) -> str:
    """The number of the refund that pays a void back: one per payment, readable beside the order's."""
    if len(out_trade_no) < 32:
        return "V" + out_trade_no
    return "V" + hashlib.sha256(out_trade_no.encode("ascii")).hexdigest()[:31]


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
    changes: dict[str, Any] = {"state": target.value, "send_at": None, "note": None}
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
    # A void paid back by this refund did not happen: the payment is an ordinary paid one again.
    void_failed = target == RefundState.FAILED and r.out_refund_no == void_refund_no(p.out_trade_no)
    if void_failed and p.void_kind is not None and not repo.cas_update_payment(session, p, {"void_kind": None}, now):
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

    def __init__(self, ctx: EngineContext, approvals: Approvals) -> None:
        self._ctx = ctx
        self._approvals = approvals

    async def create_refund(self, terminal_id: str, out_trade_no: str, req: CreateRefund) -> RefundView:
        """Refund part or all of a PAID payment. The same out_refund_no again is the same refund."""
        ctx = self._ctx
        check_gateway_safe(req.out_refund_no)
        payment = await ctx.load_for_terminal(terminal_id, out_trade_no)
        approver: str | None = None
        if await ctx.tx.read(repo.get_refund, req.out_refund_no) is None:
            approver = await self._approvals.check(payment.store_id, req.approver, req.approver_pin, action="Refund")
        now = ctx.now()

        def reserve(session: Session) -> tuple[Refund, Payment, bool]:
            p = repo.get_payment(session, out_trade_no, lock=True)
            assert p is not None
            existing = repo.get_refund(session, req.out_refund_no, lock=True)
            if existing is not None:
                if existing.out_trade_no != out_trade_no or existing.amount_fen != req.amount_fen:
                    raise _conflict(req.out_refund_no)
                return existing, p, False
            assert approver is not None  # it was not there at the first read, and refunds are never deleted
            refund = reserve_refund_in(
                ctx,
                session,
                p,
                out_refund_no=req.out_refund_no,
                amount_fen=req.amount_fen,
                reason=req.reason,
                operator=req.operator,
                approver=approver,
                now=now,
            )
            return refund, p, True

        try:
            refund, payment, created = await ctx.tx.mutate(reserve)
        except IntegrityError:
            existing = await self._load_refund(req.out_refund_no)
            if existing.out_trade_no != out_trade_no or existing.amount_fen != req.amount_fen:
                raise _conflict(req.out_refund_no) from None
            return repo.refund_view(existing)
        log.info(
            "refund %s of %s: %s by %s, approved by %s%s",
            refund.out_refund_no,
            out_trade_no,
            format_fen(refund.amount_fen),
            req.operator,
            refund.approved_by,
            "" if created else " (repeat)",
        )
        return repo.refund_view(await self.send_and_follow(refund, payment))

    async def send_and_follow(self, refund: Refund, payment: Payment) -> Refund:
        """Send a reserved refund unless it was answered or must wait, then follow it in the background."""
        ctx = self._ctx
        if _due(refund, ctx.now()) and refund.state in (RefundState.PENDING.value, RefundState.UNKNOWN.value):
            # Sending again with the same out_refund_no is safe: the gateway keeps one refund per number.
            refund = await self._send_refund(refund, payment)
        orn = refund.out_refund_no
        follow = refund.state in (RefundState.PROCESSING.value, RefundState.UNKNOWN.value) or refund.send_at is not None
        if follow and not ctx.tasks.driving(orn):
            ctx.tasks.spawn(orn, lambda: self._drive_refund(orn))
        return refund

    async def get_refund(self, terminal_id: str, out_trade_no: str, out_refund_no: str) -> RefundView:
        refund = await self._load_refund(out_refund_no)
        if refund.terminal_id != terminal_id or refund.out_trade_no != out_trade_no:
            raise RefundNotFound()
        return repo.refund_view(refund)

    async def settle_refund(self, refund: Refund) -> Refund:
        """Ask the gateway about an open refund and apply the answer (send it if it never arrived).

        A refund waiting for its ``send_at`` is left alone until then."""
        ctx = self._ctx
        if not _due(refund, ctx.now()):
            return refund
        payment = await ctx.load_payment(refund.out_trade_no)
        provider = ctx.provider(ctx.channel_of(payment))
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
        provider = ctx.provider(ctx.channel_of(payment))
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
            if isinstance(exc, OutcomeUnknownError) and exc.code == FREQUENCY_LIMITED:
                # A definite "not now" (the refund was not made): no unknown outcome to chase.
                await ctx.attempt(otn, "refund", "retry", FREQUENCY_LIMITED, out_refund_no=orn)
                return await self._wait_for_slot(refund, ctx.channel_of(payment))
            await ctx.attempt(otn, "refund", "unknown", short_error(exc), out_refund_no=orn)
            await self._note_unresolved(orn)
            result = RefundResult(otn, orn, RefundState.UNKNOWN, refund.amount_fen)
        else:
            await ctx.attempt(otn, "refund", result.state.value.lower(), out_refund_no=orn)
        return await self._apply(result, "refund") or refund

    async def _wait_for_slot(self, refund: Refund, channel: Channel) -> Refund:
        """The gateway refused the refund for frequency: it is sent again by itself at the first moment
        the gateway's rule allows, and says so."""
        ctx = self._ctx
        now = ctx.now()

        def schedule(session: Session) -> Refund:
            r = repo.get_refund(session, refund.out_refund_no, lock=True)
            assert r is not None
            if not is_open(r):
                return r
            last = _last_accepted_refund_at(session, r.out_trade_no, r.out_refund_no)
            send_at = (
                last + REFUND_SPACING if last is not None and last + REFUND_SPACING > now else now + REFUND_SPACING
            )
            at = send_at.astimezone(ctx.business_tz)
            note = (
                f"{channel.label} takes one refund per order per minute — this refund is sent "
                f"automatically at {at:%H:%M:%S}; nothing to do."
            )
            if not repo.cas_update_refund(session, r, {"send_at": send_at, "note": note}, now):
                raise StaleRow()
            p = repo.get_payment(session, r.out_trade_no)
            assert p is not None
            repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(r))
            return r

        scheduled = await ctx.tx.mutate(schedule)
        log.info("refund %s refused for frequency: sent again at %s", refund.out_refund_no, scheduled.send_at)
        return scheduled

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
            waiting = await self._load_refund(out_refund_no)
            pause = self._ctx.timings.poll_interval_s
            if waiting.send_at is not None:
                pause = max((waiting.send_at - self._ctx.now()).total_seconds(), 0.0)
            await self._ctx.sleep(pause)
            refund = await self._load_refund(out_refund_no)
            if not is_open(refund):
                return
            refund = await self.settle_refund(refund)
            if not is_open(refund):
                return


def reserve_refund_in(
    ctx: EngineContext,
    session: Session,
    p: Payment,
    *,
    out_refund_no: str,
    amount_fen: int,
    reason: str,
    operator: str,
    approver: str,
    now: datetime,
) -> Refund:
    """Reserve a new approved refund of the locked payment ``p`` inside the caller's transaction:
    refused when the payment is not paid, when too little is left, or over today's refund limits."""
    if PaymentState(p.state) not in MONEY_IN_STATES:
        raise PaymentStateError(f"Only paid payments can be refunded (this one is {p.state}).")
    left = p.amount_fen - repo.reserved_refund_fen(session, p.out_trade_no)
    if amount_fen > left:
        raise RefundAmountError(f"{format_fen(amount_fen)} is more than the {format_fen(max(left, 0))} left to refund.")
    check_refund_limits(ctx, session, p, amount_fen)
    refund = Refund(
        out_refund_no=out_refund_no,
        out_trade_no=p.out_trade_no,
        terminal_id=p.terminal_id,
        amount_fen=amount_fen,
        reason=reason,
        operator=operator,
        approved_by=approver,
        state=RefundState.PENDING.value,
        business_day=ctx.business_day(now),
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    session.flush()
    repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(refund))
    return refund


def _due(refund: Refund, now: datetime) -> bool:
    """Whether the refund may be sent or asked about now (not waiting for a gateway's time slot)."""
    return refund.send_at is None or now >= refund.send_at


def _last_accepted_refund_at(session: Session, out_trade_no: str, other_than: str) -> datetime | None:
    """When the gateway last took another refund of this order (or may have: an unanswered call)."""
    stmt = select(func.max(Attempt.at)).where(
        Attempt.out_trade_no == out_trade_no,
        Attempt.op == "refund",
        col(Attempt.out_refund_no) != other_than,
        col(Attempt.outcome).not_in(("failed", "retry")),
    )
    value: datetime | None = session.exec(stmt).one()
    return value
