"""Payments: create (idempotent per out_trade_no), read, and cancel or void.

The customer's payment code is sent once, held in memory only for that call, and never stored or
logged (only its last 4 digits). A micropay whose outcome is not final is handed to the settling
driver under this process's lease.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from pos_app.api.schemas import CancelPayment, CreatePayment, PaymentView
from pos_app.domain.errors import AuthCodeError, InputError, OutcomeUnknown
from pos_app.domain.ids import check_gateway_safe
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel, PaymentMode, mask_code, route_auth_code
from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import IdempotencyConflict, PaymentStateError
from pos_app.engine.leases import Leases
from pos_app.engine.providers.base import (
    ConfigurationError,
    DefiniteFailure,
    OrderNotFound,
    PaymentProvider,
    TradeResult,
)
from pos_app.engine.settling import REVERSE_BACKOFF_S, Settling
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment
from pos_app.engine.store.transactions import StaleRow
from pos_app.engine.trades import apply_trade, note_unresolved, short_error

log = logging.getLogger(__name__)

#: What must match when an out_trade_no is sent again (otherwise it is another sale).
_SAME_REQUEST_FIELDS = ("terminal_id", "store_id", "channel", "mode", "amount_fen", "subject", "masked_auth_code")


class Payments:
    """Payment use cases for the terminals: create, get, find, cancel/void."""

    def __init__(self, ctx: EngineContext, leases: Leases, settling: Settling) -> None:
        self._ctx = ctx
        self._leases = leases
        self._settling = settling

    # ------------------------------------------------------------------ create

    async def create_payment(self, terminal_id: str, store_id: str, req: CreatePayment) -> PaymentView:
        """Start a payment, or return the existing one for a repeated request (never sending a code twice)."""
        ctx = self._ctx
        check_gateway_safe(req.out_trade_no)
        auth_code: str | None = None
        if req.mode == PaymentMode.CASH:
            raise InputError("Cash sales are recorded by the terminal, not sent to the payment engine.")
        if req.mode == PaymentMode.MICROPAY:
            if not req.auth_code:
                raise AuthCodeError("Scan the customer's payment code first.")
            routed = route_auth_code(req.auth_code)  # refuses a bad code before any network call
            if req.channel is not None and req.channel != routed.channel:
                raise AuthCodeError(
                    f"That is a {routed.channel.label} payment code, not {req.channel.label} — check and scan again."
                )
            channel, auth_code = routed.channel, routed.auth_code
        else:
            if req.auth_code:
                raise InputError("A QR payment takes no payment code — choose scan-to-pay instead.")
            if req.channel not in (Channel.WECHAT, Channel.ALIPAY):
                raise InputError("Choose WeChat Pay or Alipay for a QR payment.")
            channel = req.channel
        provider = ctx.provider(channel)
        now = ctx.now()
        row = Payment(
            out_trade_no=req.out_trade_no,
            terminal_id=terminal_id,
            store_id=store_id,
            channel=channel.value,
            mode=req.mode.value,
            amount_fen=req.amount_fen,
            subject=req.subject,
            operator=req.operator,
            state=(PaymentState.SUBMITTED if auth_code is not None else PaymentState.CREATED).value,
            business_day=ctx.business_day(now),
            created_at=now,
            updated_at=now,
        )
        if auth_code is not None:
            row.masked_auth_code = mask_code(auth_code)
            row.deadline_at = now + ctx.timings.micropay_deadlines[channel]
            row.lease_until = now + ctx.timings.lease  # this process settles it (renewing); others wait
            row.lease_owner = ctx.owner
        else:
            row.expires_at = now + ctx.timings.qr_lifetime
        existing, created = await self._insert(row)
        if not created:
            _check_same_request(existing, row)
            if (
                existing.mode == PaymentMode.NATIVE.value
                and existing.code_url is None
                and existing.state in (PaymentState.CREATED.value, PaymentState.UNKNOWN.value)
                and existing.expires_at is not None
                and now < existing.expires_at
            ):
                # Creating a native order again with identical parameters is allowed by both gateways.
                return await self._submit_native(existing, provider)
            return repo.payment_view(existing)
        ctx.wakeup.wake()
        if auth_code is not None:
            return await self._submit_micropay(existing, provider, auth_code)
        return await self._submit_native(existing, provider)

    async def _insert(self, row: Payment) -> tuple[Payment, bool]:
        """(the payment, True) if inserted; (the one already there, False) for a taken out_trade_no."""

        def insert(session: Session) -> tuple[Payment, bool]:
            session.add(row)
            session.flush()
            repo.append_event(session, repo.payment_view(row), row.created_at)
            return row, True

        try:
            return await self._ctx.tx.write(insert)
        except IntegrityError:
            # The out_trade_no is taken: a repeated request (or another process got there first).
            # Inserting first and reading only then spares every new payment a lookup.
            return await self._ctx.load_payment(row.out_trade_no), False

    async def _submit_native(self, payment: Payment, provider: PaymentProvider) -> PaymentView:
        ctx = self._ctx
        otn = payment.out_trade_no
        assert payment.expires_at is not None
        try:
            order = await provider.create_native(
                out_trade_no=otn,
                amount_fen=payment.amount_fen,
                subject=payment.subject,
                notify_url=ctx.notify_url(provider.channel),
                expires_at=payment.expires_at,
            )
        except (DefiniteFailure, ConfigurationError) as exc:
            await ctx.attempt(otn, "create_native", "failed", short_error(exc))
            if isinstance(exc, ConfigurationError):
                log.error("native order %s refused by %s: %s", otn, provider.channel.value, exc.reason)
            result = TradeResult(otn, PaymentState.FAILED, reason=exc.reason, gateway_code=exc.code)
            return repo.payment_view(await apply_trade(ctx, otn, result, "create_native"))
        except Exception as exc:
            log.warning("native order %s: outcome unknown (%s)", otn, short_error(exc))
            await ctx.attempt(otn, "create_native", "unknown", short_error(exc))
            await note_unresolved(ctx, otn)
            result = TradeResult(otn, PaymentState.UNKNOWN)
            return repo.payment_view(await apply_trade(ctx, otn, result, "create_native"))

        def store(session: Session) -> Payment:
            # The attempt's record and the code in one transaction (one commit on the cashier's path).
            repo.record_attempt(session, otn, "create_native", "ok", ctx.now())
            p = repo.get_payment(session, otn, lock=True)
            assert p is not None
            if p.state not in (PaymentState.CREATED.value, PaymentState.UNKNOWN.value):
                return p  # a notification or a close got there first
            changes: dict[str, Any] = {
                "state": PaymentState.AWAITING_SCAN.value,
                "code_url": order.code_url,
                "expires_at": order.expires_at,
            }
            if not repo.cas_update_payment(session, p, changes, ctx.now()):
                raise StaleRow()
            repo.append_event(session, repo.payment_view(p), ctx.now())
            return p

        return repo.payment_view(await ctx.tx.mutate(store))

    async def _submit_micropay(self, payment: Payment, provider: PaymentProvider, auth_code: str) -> PaymentView:
        ctx = self._ctx
        otn = payment.out_trade_no
        log.info(
            "micropay %s %s %s code %s",
            otn,
            provider.channel.value,
            format_fen(payment.amount_fen),
            payment.masked_auth_code,
            extra={
                "out_trade_no": otn,
                "channel": provider.channel.value,
                "amount_fen": payment.amount_fen,
                "auth_code": payment.masked_auth_code,
            },
        )
        try:
            result = await provider.micropay(
                out_trade_no=otn,
                amount_fen=payment.amount_fen,
                subject=payment.subject,
                auth_code=auth_code,
                store_id=payment.store_id,
                device_id=payment.terminal_id,
            )
            outcome = result.state.value.lower()
        except (DefiniteFailure, ConfigurationError) as exc:
            if isinstance(exc, ConfigurationError):
                log.error("micropay %s refused by %s: %s", otn, provider.channel.value, exc.reason)
            result = TradeResult(otn, PaymentState.FAILED, reason=exc.reason, gateway_code=exc.code)
            outcome = "failed"
        except Exception as exc:
            log.warning("micropay %s: outcome unknown (%s)", otn, short_error(exc))
            result = TradeResult(otn, PaymentState.UNKNOWN)
            outcome = "unknown"
        del auth_code  # the code is never needed again: it is never sent twice
        await ctx.attempt(otn, "micropay", outcome, result.gateway_code)
        if result.state == PaymentState.AWAITING_SCAN:
            result = TradeResult(otn, PaymentState.USER_PAYING, raw=result.raw)
        updated = await apply_trade(ctx, otn, result, "micropay")
        if PaymentState(updated.state) not in SETTLED_STATES:
            ctx.tasks.spawn(otn, lambda: self._settling.drive_micropay(otn))
        else:
            await self._leases.release(otn)
        return repo.payment_view(updated)

    # ------------------------------------------------------------------ read

    async def get_payment(self, terminal_id: str, out_trade_no: str) -> PaymentView:
        return repo.payment_view(await self._ctx.load_for_terminal(terminal_id, out_trade_no))

    async def find_payment(self, out_trade_no: str) -> PaymentView:
        """Any terminal's payment (manager tools, reconciliation)."""
        return repo.payment_view(await self._ctx.load_payment(out_trade_no))

    # ------------------------------------------------------------------ cancel / void

    async def cancel_payment(self, terminal_id: str, out_trade_no: str, req: CancelPayment) -> PaymentView:
        """Cancel a payment in flight (close / reverse), or void a same-day PAID one (money returned)."""
        ctx = self._ctx
        p = await ctx.load_for_terminal(terminal_id, out_trade_no)
        state = PaymentState(p.state)
        log.info("cancel %s (state %s) by %s: %s", out_trade_no, state, req.operator, req.reason or "-")
        if state in (PaymentState.CLOSED, PaymentState.FAILED, PaymentState.REVERSED):
            return repo.payment_view(p)
        if state in (PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED):
            raise PaymentStateError("This payment was already refunded — it cannot be voided; refund the rest instead.")
        if state == PaymentState.PAID:
            return await self._void(p)
        await ctx.tx.write(_request_cancel, out_trade_no)
        p = await ctx.load_payment(out_trade_no)
        if p.mode == PaymentMode.NATIVE.value:
            p = await self._settling.close(p)
            if PaymentState(p.state) not in SETTLED_STATES:
                p = await self._settling.settle_pass(p)
            return repo.payment_view(p)
        for pause in (0.0, *REVERSE_BACKOFF_S[:2]):
            if pause:
                await ctx.sleep(pause)
            p = await ctx.load_payment(out_trade_no)
            if PaymentState(p.state) in SETTLED_STATES:
                break
            p, definite = await self._settling.reverse(p)
            if definite:
                break
        return repo.payment_view(p)

    async def _void(self, p: Payment) -> PaymentView:
        """Same business day void of a PAID wallet payment: reverse/cancel returns the money."""
        ctx = self._ctx
        paid_at = p.paid_at or p.created_at
        if ctx.business_day(paid_at) != ctx.business_day(ctx.now()):
            raise PaymentStateError("Only payments of today can be voided — use a refund instead.")
        if await ctx.tx.read(repo.reserved_refund_fen, p.out_trade_no):
            raise PaymentStateError("This payment has refunds — refund the rest instead of voiding it.")
        provider = ctx.provider(Channel(p.channel))
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
                await ctx.attempt(p.out_trade_no, "reverse", "done", "void")
                result = TradeResult(
                    p.out_trade_no, PaymentState.REVERSED, reason="Voided — the money was returned to the customer."
                )
                return repo.payment_view(await apply_trade(ctx, p.out_trade_no, result, "void"))
            await ctx.attempt(p.out_trade_no, "reverse", "retry", "void")
        raise OutcomeUnknown("The void did not get a definite answer yet — try the void again.")


def _check_same_request(existing: Payment, new: Payment) -> None:
    differing = [f for f in _SAME_REQUEST_FIELDS if getattr(existing, f) != getattr(new, f)]
    if differing:
        log.warning("out_trade_no %s reused with different %s", existing.out_trade_no, ", ".join(differing))
        raise IdempotencyConflict(
            f"Order number {existing.out_trade_no} was already used with a different "
            f"{', '.join(d.replace('_', ' ') for d in differing)} — start a new sale."
        )


def _request_cancel(session: Session, out_trade_no: str) -> None:
    """Mark the payment: whoever settles it next closes/reverses it instead of waiting."""
    session.exec(update(Payment).where(col(Payment.out_trade_no) == out_trade_no).values(cancel_requested=True))
