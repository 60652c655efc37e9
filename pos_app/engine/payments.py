"""Payments: create (idempotent per out_trade_no), read, and cancel (a paid one is voided by ``voids``).

The customer's payment code is sent once, held in memory only for that call, and never stored or
logged (only its last 4 digits). A micropay whose outcome is not final is handed to the settling
driver under this process's lease.
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from pos_app.api.schemas import CancelPayment, CreatePayment, PaymentView
from pos_app.domain.errors import AuthCodeError, InputError
from pos_app.domain.ids import IdKind, check_gateway_safe, check_issued_by
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel, PaymentMode, mask_code, route_auth_code
from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.engine.context import EngineContext
from pos_app.engine.errors import IdempotencyConflict, OneQrUnavailable, PaymentStateError
from pos_app.engine.leases import Leases
from pos_app.engine.native import NativeOrders
from pos_app.engine.providers.base import (
    ConfigurationError,
    DefiniteFailure,
    PaymentProvider,
    TradeResult,
)
from pos_app.engine.settling import REVERSE_BACKOFF_S, Settling
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment
from pos_app.engine.trades import apply_trade, short_error
from pos_app.engine.voids import Voids
from pos_app.engine.wallet_pages import WalletPages

log = logging.getLogger(__name__)

#: What must match when an out_trade_no is sent again (otherwise it is another sale).
_SAME_REQUEST_FIELDS = ("terminal_id", "store_id", "channel", "mode", "amount_fen", "subject", "masked_auth_code")


class Payments:
    """Payment use cases for the terminals: create, get, find, cancel/void."""

    def __init__(
        self,
        ctx: EngineContext,
        leases: Leases,
        settling: Settling,
        native: NativeOrders,
        voids: Voids,
        pages: WalletPages | None = None,
    ) -> None:
        self._pages = pages  # one-QR pages (None: this engine does not serve them)
        self._ctx = ctx
        self._leases = leases
        self._settling = settling
        self._native = native
        self._voids = voids

    # ------------------------------------------------------------------ create

    async def create_payment(self, terminal_id: str, store_id: str, req: CreatePayment) -> PaymentView:
        """Start a payment, or return the existing one for a repeated request (never sending a code twice)."""
        ctx = self._ctx
        check_gateway_safe(req.out_trade_no)
        # Before the ledger is asked: another terminal's number is refused for what it says, so the
        # answer is the same whether or not that order exists (no 409 that would reveal it).
        check_issued_by(req.out_trade_no, kind=IdKind.PAYMENT, store=store_id, terminal=terminal_id)
        auth_code: str | None = None
        if req.mode == PaymentMode.CASH:
            raise InputError("Cash sales are recorded by the terminal, not sent to the payment engine.")
        if req.mode == PaymentMode.STORE_QR:
            raise InputError("Store-QR payments are made by the customer on the store code, not by the till.")
        if req.mode == PaymentMode.ONE_QR:
            if self._pages is None:
                raise OneQrUnavailable()
            return await self._pages.create_one_qr(terminal_id, store_id, req)
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
                return repo.payment_view(await self._settling.recover_code(existing))
            return repo.payment_view(existing)
        ctx.wakeup.wake()
        if auth_code is not None:
            return await self._submit_micropay(existing, provider, auth_code)
        return await self._submit_native(existing)

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

    async def _submit_native(self, payment: Payment) -> PaymentView:
        p = await self._native.prepay(payment)
        if p.state == PaymentState.UNKNOWN.value:
            # The answer was lost or not verifiable: get the code back now (DESIGN: no QR is lost).
            otn = p.out_trade_no
            self._ctx.tasks.spawn(otn, lambda: self._settling.drive_native_code(otn))
        return repo.payment_view(p)

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
        """Cancel a payment in flight (close / reverse), or void a same-day PAID one (money returned,
        a manager's approval needed)."""
        ctx = self._ctx
        p = await ctx.load_for_terminal(terminal_id, out_trade_no)
        state = PaymentState(p.state)
        log.info("cancel %s (state %s) by %s: %s", out_trade_no, state, req.operator, req.reason or "-")
        if p.void_kind is not None or state in (PaymentState.CLOSED, PaymentState.FAILED, PaymentState.REVERSED):
            return repo.payment_view(p)  # over already (a voided one's refund may still be on its way)
        if state in (PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED):
            raise PaymentStateError("This payment was already refunded — it cannot be voided; refund the rest instead.")
        if state == PaymentState.PAID:
            return await self._voids.void(p, req)
        await ctx.tx.write(_request_cancel, out_trade_no)
        p = await ctx.load_payment(out_trade_no)
        if p.mode in _PAGE_OR_QR_MODES:
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


#: Orders the customer's phone opens (a code or a page): cancelled by closing them, never reversed.
_PAGE_OR_QR_MODES = frozenset(m.value for m in (PaymentMode.NATIVE, PaymentMode.ONE_QR, PaymentMode.STORE_QR))


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
