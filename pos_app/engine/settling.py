"""Settling unknown outcomes: query, then close (native) or reverse/cancel (micropay) until definite.

The micropay driver polls a USER_PAYING/UNKNOWN payment to its provider deadline under this process's
lease; the resolver finds every unsettled payment, refund and un-applied notification in the ledger
— after a restart, from any process — and settles what it can. A payment that cannot be settled is
flagged ``needs_attention``, never dropped (DESIGN.md §5).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlmodel import Session

from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.engine.breakers import CircuitOpen
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import PaymentNotFound
from pos_app.engine.leases import Leases
from pos_app.engine.native import NativeOrders
from pos_app.engine.notify.notifications import Notifications
from pos_app.engine.providers.base import DefiniteFailure, OrderNotFound, ReverseResult, TradeResult
from pos_app.engine.refunds import Refunds, is_open
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment
from pos_app.engine.store.transactions import StaleRow
from pos_app.engine.trades import apply_trade, note_unresolved, short_error, trade_changes

log = logging.getLogger(__name__)

#: Pauses between repeated reverse/cancel calls (retry_flag=Y or no answer) inside one settle run.
REVERSE_BACKOFF_S = (2.0, 4.0, 8.0, 15.0, 30.0)
#: Pauses before each repeated prepay of a native order whose first answer was lost.
NATIVE_CODE_RETRY_S = (1.0, 2.0, 4.0, 8.0)


class Settling:
    """The gateway calls that settle one payment, and the micropay driver."""

    def __init__(self, ctx: EngineContext, leases: Leases, native: NativeOrders) -> None:
        self._ctx = ctx
        self._leases = leases
        self._native = native

    async def query(self, p: Payment) -> Payment:
        ctx = self._ctx
        if p.channel is None:
            return p  # a one-QR page no wallet opened: no gateway has this order to ask about
        provider = ctx.provider(ctx.channel_of(p))
        try:
            result = await provider.query(p.out_trade_no)
        except CircuitOpen:
            return p  # not called: the channel is failing; asked again once its breaker lets a call through
        except OrderNotFound:
            await ctx.attempt(p.out_trade_no, "query", "not_found")
            return await ctx.load_payment(p.out_trade_no)
        except Exception as exc:
            await ctx.attempt(p.out_trade_no, "query", "unknown", short_error(exc))
            await note_unresolved(ctx, p.out_trade_no)
            return await ctx.load_payment(p.out_trade_no)
        await ctx.attempt(p.out_trade_no, "query", result.state.value.lower(), result.gateway_code)
        return await apply_trade(ctx, p.out_trade_no, result, "query")

    async def close(self, p: Payment) -> Payment:
        """Close an unpaid native order; "already paid" means PAID."""
        ctx = self._ctx
        otn = p.out_trade_no
        if p.channel is None:
            return await self._close_unopened(p)
        provider = ctx.provider(ctx.channel_of(p))
        try:
            result = await provider.close(otn)
        except CircuitOpen:
            return p
        except OrderNotFound:
            # Alipay: a QR nobody scanned has no trade to close. Nothing can be paid on it any more
            # once we stop showing it, and a late payment would be flagged (PAID after CLOSED).
            await ctx.attempt(otn, "close", "not_found")
            result = TradeResult(otn, PaymentState.CLOSED, reason="The QR code expired unpaid.")
        except DefiniteFailure as exc:
            await ctx.attempt(otn, "close", "failed", short_error(exc))
            return await self.query(p)  # e.g. paid meanwhile: the query tells
        except Exception as exc:
            await ctx.attempt(otn, "close", "unknown", short_error(exc))
            await note_unresolved(ctx, otn)
            return await ctx.load_payment(otn)
        else:
            await ctx.attempt(otn, "close", result.state.value.lower(), result.gateway_code)
        return await apply_trade(ctx, otn, result, "close")

    async def _close_unopened(self, p: Payment) -> Payment:
        """A one-QR payment whose page no wallet opened is closed here only: no gateway has it. The
        compare-and-set loses to a wallet opening the page at the same moment (the row changed), and
        then the next settling pass closes it at the gateway like a native order."""
        ctx = self._ctx
        otn = p.out_trade_no
        reason = "The code expired unpaid." if not p.cancel_requested else "Cancelled before any wallet opened it."
        result = TradeResult(otn, PaymentState.CLOSED, reason=reason)

        def close_here(session: Session) -> Payment:
            row = repo.get_payment(session, otn, lock=True)
            if row is None:
                raise PaymentNotFound()
            if row.channel is not None:
                return row  # a wallet opened the page meanwhile: the gateway has the order now
            now = ctx.now()
            changes = trade_changes(row, result, now)
            if not changes:
                return row
            if not repo.cas_update_payment(session, row, changes, now):
                raise StaleRow()
            repo.append_event(session, repo.payment_view(row), now)
            return row

        after = await ctx.tx.mutate(close_here)
        if after.channel is not None:
            return await self.close(after)
        if PaymentState(after.state) is PaymentState.CLOSED:
            await ctx.attempt(otn, "close", "closed", "unopened")  # no gateway call: none has the order
            log.info("one-QR payment %s closed unopened", otn)
        return after

    async def reverse(self, p: Payment) -> tuple[Payment, bool]:
        """One reverse (WeChat) / cancel (Alipay) call. Returns (payment, definite)."""
        ctx = self._ctx
        provider = ctx.provider(ctx.channel_of(p))
        otn = p.out_trade_no
        try:
            rr: ReverseResult = await provider.reverse(otn)
        except CircuitOpen:
            return p, False
        except OrderNotFound:
            await ctx.attempt(otn, "reverse", "not_found")
            after = await self.query(p)
            if PaymentState(after.state) in SETTLED_STATES:
                return after, True
            # The gateway has never seen this order: the code never arrived, nothing was charged.
            result = TradeResult(
                otn, PaymentState.FAILED, reason="The payment never reached the gateway — no money moved."
            )
            return await apply_trade(ctx, otn, result, "reverse"), True
        except DefiniteFailure as exc:
            # e.g. "user is paying, cannot reverse yet": learn the state, try again later.
            await ctx.attempt(otn, "reverse", "failed", short_error(exc))
            await note_unresolved(ctx, otn)
            after = await self.query(p)
            return after, PaymentState(after.state) in SETTLED_STATES
        except Exception as exc:
            await ctx.attempt(otn, "reverse", "unknown", short_error(exc))
            await note_unresolved(ctx, otn)
            return await ctx.load_payment(otn), False
        if not rr.done or rr.retry:
            await ctx.attempt(otn, "reverse", "retry")
            await note_unresolved(ctx, otn)
            return await ctx.load_payment(otn), False
        await ctx.attempt(otn, "reverse", "done", "money returned" if rr.money_returned else None)
        reason = "Cancelled — the money was returned to the customer." if rr.money_returned else None
        result = TradeResult(otn, PaymentState.REVERSED, reason=reason)
        return await apply_trade(ctx, otn, result, "reverse"), True

    async def settle_pass(self, p: Payment) -> Payment:
        """One settling step for an unsettled payment: query, then close/reverse when it is time."""
        if p.channel is None:  # a one-QR page no wallet opened: closed locally once expired or cancelled
            if p.cancel_requested or p.expires_at is None or self._ctx.now() >= p.expires_at:
                p = await self.close(p)
            return p
        p = await self.query(p)
        if PaymentState(p.state) in SETTLED_STATES:
            return p
        now = self._ctx.now()
        if p.mode == PaymentMode.MICROPAY.value:
            if p.cancel_requested or p.deadline_at is None or now >= p.deadline_at:
                p, _definite = await self.reverse(p)
            return p
        expired = p.expires_at is None or now >= p.expires_at
        if p.cancel_requested or expired:
            p = await self.close(p)
        elif p.code_url is None and p.mode == PaymentMode.NATIVE.value:
            p = await self.recover_code(p)
        return p

    async def recover_code(self, p: Payment) -> Payment:
        """A native order whose code we never got: prepay again with identical parameters. If the
        gateway definitely refuses, learn the order's state, and close it if it is still unpaid:
        the cashier then starts the sale again with a new order (never left without a QR)."""
        p, refused = await self._native.prepay_again(p)
        if not refused:
            return p
        p = await self.query(p)
        if PaymentState(p.state) not in SETTLED_STATES:
            p = await self.close(p)
        return p

    async def drive_native_code(self, out_trade_no: str) -> None:
        """Right after a native create without an answer: get the code back within seconds, so the
        till shows the QR (the status event carries it); then the resolver takes over."""
        ctx = self._ctx
        for pause in NATIVE_CODE_RETRY_S:
            await ctx.sleep(pause)
            p = await ctx.load_payment(out_trade_no)
            if PaymentState(p.state) in SETTLED_STATES or p.code_url is not None or p.cancel_requested:
                return
            if p.expires_at is not None and ctx.now() >= p.expires_at:
                return
            await self.recover_code(p)

    async def drive_micropay(self, out_trade_no: str) -> None:
        """Poll a USER_PAYING/UNKNOWN micropay every ``poll_interval_s`` to its deadline, then reverse
        until definite.

        The lease taken when the payment was created is renewed while this runs (and at each poll,
        in the context's own clock), so another process's resolver leaves the payment alone while
        this process lives and takes it over within the lease after it died.
        """
        async with self._leases.held(out_trade_no):
            await self._drive_micropay_leased(out_trade_no)

    async def _drive_micropay_leased(self, out_trade_no: str) -> None:
        ctx = self._ctx
        reverse_runs = 0
        while True:
            await self._leases.renew(out_trade_no)
            p = await ctx.load_payment(out_trade_no)
            if PaymentState(p.state) in SETTLED_STATES:
                return
            now = ctx.now()
            if not p.cancel_requested and p.deadline_at is not None and now < p.deadline_at:
                await ctx.sleep(min(ctx.timings.poll_interval_s, (p.deadline_at - now).total_seconds()))
                p = await ctx.load_payment(out_trade_no)
                if PaymentState(p.state) not in SETTLED_STATES:
                    await self.query(p)
                continue
            p = await self.settle_pass(p)
            if PaymentState(p.state) in SETTLED_STATES:
                return
            if reverse_runs >= len(REVERSE_BACKOFF_S):
                log.warning("micropay %s still %s: handed to the resolver", out_trade_no, p.state)
                await self._leases.release(out_trade_no)
                return
            await ctx.sleep(REVERSE_BACKOFF_S[reverse_runs])
            reverse_runs += 1


class Resolver:
    """Settles what can be settled now, whoever started it: un-applied notifications, unsettled
    payments (under a lease, so one process at a time) and open refunds."""

    def __init__(
        self,
        ctx: EngineContext,
        leases: Leases,
        settling: Settling,
        refunds: Refunds,
        notifications: Notifications,
    ) -> None:
        self._ctx = ctx
        self._leases = leases
        self._settling = settling
        self._refunds = refunds
        self._notifications = notifications

    async def resolve_once(self) -> int:
        """One pass. Returns how many payments/refunds settled."""
        ctx = self._ctx
        await self._notifications.apply_recorded()
        settled = 0
        for p in await ctx.tx.read(repo.unsettled_payments):
            if ctx.tasks.driving(p.out_trade_no):
                continue
            claimed = await self._leases.claim(p.out_trade_no)
            if claimed is None:
                continue  # another process is settling it, or already has
            try:
                async with self._leases.held(p.out_trade_no):
                    after = await self._settling.settle_pass(claimed)
            except Exception:
                log.exception("resolver: settling %s failed", p.out_trade_no)
                continue
            finally:
                await self._leases.release(p.out_trade_no)
            if PaymentState(after.state) in SETTLED_STATES:
                settled += 1

        for r in await ctx.tx.read(repo.open_refunds):
            if ctx.tasks.driving(r.out_refund_no):
                continue
            try:
                after_refund = await self._refunds.settle_refund(r)
            except Exception:
                log.exception("resolver: settling refund %s failed", r.out_refund_no)
                continue
            if not is_open(after_refund):
                settled += 1
        return settled

    async def run(self, stop_event: asyncio.Event) -> None:
        """Run :meth:`resolve_once` every ``engine.resolver_interval_s`` until ``stop_event`` is set."""
        interval = self._ctx.settings.engine.resolver_interval_s
        while not stop_event.is_set():
            try:
                count = await self.resolve_once()
                if count:
                    log.info("resolver settled %d", count)
            except Exception:
                log.exception("resolver pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=interval)
