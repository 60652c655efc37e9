"""Same-day voids of paid payments: reversed at the gateway where it allows that, else refunded in full.

What each gateway allows for a paid order the same day (``shared/specs``): WeChat Pay reverses a paid
payment-code order (撤销; a native order cannot be reversed, only refunded); Alipay's cancel is meant
for unknown outcomes only, a normal reversal is a refund (f2f §3.4). A void paid back by a refund is
marked ``void_kind = refunded`` so that the till shows "void (refunded)", never a plain refund; a
reversed one ``void_kind = reversed``. A manager's approval is checked before any gateway call.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from pos_app.api.schemas import CancelPayment, PaymentView, VoidKind
from pos_app.domain.errors import OutcomeUnknown
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.approvals import Approvals
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import PaymentStateError
from pos_app.engine.providers.base import DefiniteFailure, OrderNotFound, TradeResult
from pos_app.engine.refunds import Refunds, reserve_refund_in, void_refund_no
from pos_app.engine.settling import REVERSE_BACKOFF_S
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment, Refund
from pos_app.engine.store.transactions import StaleRow
from pos_app.engine.trades import log_transition, short_error, trade_changes

log = logging.getLogger(__name__)


def reversible(p: Payment) -> bool:
    """Whether the gateway itself reverses this paid order (else the void is a full refund)."""
    return p.channel == Channel.WECHAT.value and p.mode == PaymentMode.MICROPAY.value


class Voids:
    """Voids a PAID payment of today, approved by a manager."""

    def __init__(self, ctx: EngineContext, approvals: Approvals, refunds: Refunds) -> None:
        self._ctx = ctx
        self._approvals = approvals
        self._refunds = refunds

    async def void(self, p: Payment, req: CancelPayment) -> PaymentView:
        ctx = self._ctx
        paid_at = p.paid_at or p.created_at
        if ctx.business_day(paid_at) != ctx.business_day(ctx.now()):
            raise PaymentStateError("Only payments of today can be voided — use a refund instead.")
        if await ctx.tx.read(repo.reserved_refund_fen, p.out_trade_no):
            raise PaymentStateError("This payment has refunds — refund the rest instead of voiding it.")
        approver = await self._approvals.check(p.store_id, req.approver, req.approver_pin, action="Void")
        log.info("void of %s by %s, approved by %s: %s", p.out_trade_no, req.operator, approver, req.reason or "-")
        if reversible(p):
            return await self._reverse(p, approver)
        return await self._refund(p, req, approver)

    async def _reverse(self, p: Payment, approver: str) -> PaymentView:
        ctx = self._ctx
        provider = ctx.provider(ctx.channel_of(p))
        for pause in (0.0, *REVERSE_BACKOFF_S[:3]):
            if pause:
                await ctx.sleep(pause)
            try:
                rr = await provider.reverse(p.out_trade_no)
            except (DefiniteFailure, OrderNotFound) as exc:
                await ctx.attempt(p.out_trade_no, "reverse", "failed", short_error(exc))
                raise PaymentStateError(f"The void was refused ({exc.reason}) — use a refund instead.") from None
            except Exception as exc:
                await ctx.attempt(p.out_trade_no, "reverse", "unknown", short_error(exc))
                continue
            if rr.done and not rr.retry:
                await ctx.attempt(p.out_trade_no, "reverse", "done", f"void approved by {approver}"[:255])
                return repo.payment_view(await self._mark_reversed(p.out_trade_no))
            await ctx.attempt(p.out_trade_no, "reverse", "retry", "void")
        raise OutcomeUnknown("The void did not get a definite answer yet — try the void again.")

    async def _mark_reversed(self, out_trade_no: str) -> Payment:
        """PAID -> REVERSED with ``void_kind = reversed``, in one change and one event."""
        ctx = self._ctx
        result = TradeResult(
            out_trade_no, PaymentState.REVERSED, reason="Voided — the money was returned to the customer."
        )

        def apply(session: Session) -> Payment:
            p = repo.get_payment(session, out_trade_no, lock=True)
            assert p is not None
            before, now = p.state, ctx.now()
            changes = trade_changes(p, result, now) or {}
            if PaymentState(changes.get("state", p.state)) == PaymentState.REVERSED and p.void_kind is None:
                changes["void_kind"] = VoidKind.REVERSED.value
            if not changes:
                return p
            if not repo.cas_update_payment(session, p, changes, now):
                raise StaleRow()
            repo.append_event(session, repo.payment_view(p), now)
            log_transition(out_trade_no, before, p.state, "void")
            return p

        return await ctx.tx.mutate(apply)

    async def _refund(self, p: Payment, req: CancelPayment, approver: str) -> PaymentView:
        """Pay the whole amount back by a refund (one per payment: its number comes from the order's)."""
        ctx = self._ctx
        otn, orn = p.out_trade_no, void_refund_no(p.out_trade_no)

        def reserve(session: Session) -> tuple[Payment, Refund | None]:
            locked = repo.get_payment(session, otn, lock=True)
            assert locked is not None
            if locked.void_kind is not None:
                return locked, None  # another request voided it meanwhile
            earlier = repo.get_refund(session, orn)
            if earlier is not None:
                # Only a void refund the gateway refused leaves its number behind with no void_kind.
                raise PaymentStateError(
                    f"This payment's void was refused ({earlier.failure_reason or 'by the gateway'}) — "
                    "refund the customer instead."
                )
            now = ctx.now()
            if not repo.cas_update_payment(session, locked, {"void_kind": VoidKind.REFUNDED.value}, now):
                raise StaleRow()
            reason = f"void: {req.reason}" if req.reason else "void"
            refund = reserve_refund_in(
                ctx,
                session,
                locked,
                out_refund_no=orn,
                amount_fen=locked.amount_fen,
                reason=reason[:80],
                operator=req.operator,
                approver=approver,
                now=now,
            )
            return locked, refund

        payment, refund = await ctx.tx.mutate(reserve)
        if refund is not None:
            refund = await self._refunds.send_and_follow(refund, payment)
            if refund.state == RefundState.FAILED.value:
                raise PaymentStateError(
                    f"The void's refund was refused ({refund.failure_reason or 'by the gateway'}) — "
                    "the money was not returned; refund the customer instead."
                )
        return repo.payment_view(await ctx.load_payment(otn))
