"""Native QR orders: prepay (again, with identical parameters, until the code is known) and keep the code.

No QR is lost: a native payment is AWAITING_SCAN only with its code. When the first prepay's answer
is lost or cannot be verified, the same prepay is sent again: both gateways answer a repeated prepay
with identical parameters with the same order's code while it is valid (WeChat: the same
``code_url``; Alipay: the same ``qr_code``), so the till can still show it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from pos_app.domain.states import PaymentState
from pos_app.engine.breakers import CircuitOpen
from pos_app.engine.context import EngineContext
from pos_app.engine.providers.base import ConfigurationError, DefiniteFailure, NativeOrder, TradeResult
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment
from pos_app.engine.store.transactions import StaleRow
from pos_app.engine.trades import apply_trade, note_unresolved, short_error

log = logging.getLogger(__name__)


class NativeOrders:
    """The prepay call of a native payment and what its answer does to the payment."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def prepay(self, payment: Payment) -> Payment:
        """The first prepay: the code (AWAITING_SCAN), FAILED if refused, UNKNOWN if not answered."""
        ctx = self._ctx
        otn = payment.out_trade_no
        try:
            order = await self._create(payment)
        except (DefiniteFailure, ConfigurationError) as exc:
            await ctx.attempt(otn, "create_native", "failed", short_error(exc))
            if isinstance(exc, ConfigurationError):
                log.error("native order %s refused by %s: %s", otn, payment.channel, exc.reason)
            result = TradeResult(otn, PaymentState.FAILED, reason=exc.reason, gateway_code=exc.code)
            return await apply_trade(ctx, otn, result, "create_native")
        except Exception as exc:
            return await self._unanswered(payment, exc)
        return await self._store(otn, order)

    async def prepay_again(self, payment: Payment) -> tuple[Payment, bool]:
        """The same prepay again, for a payment whose code we never got. Returns (payment, refused):
        refused is True when the gateway definitely will not give the code (the order was paid or
        closed meanwhile, or it refuses the repeat); the caller then learns the order's state."""
        ctx = self._ctx
        otn = payment.out_trade_no
        try:
            order = await self._create(payment)
        except CircuitOpen:
            return payment, False  # not called: tried again once the channel's breaker lets a call through
        except (DefiniteFailure, ConfigurationError) as exc:
            await ctx.attempt(otn, "create_native", "failed", short_error(exc))
            return payment, True
        except Exception as exc:
            return await self._unanswered(payment, exc), False
        log.info("native order %s: code recovered by a repeated prepay", otn)
        return await self._store(otn, order), False

    async def _create(self, payment: Payment) -> NativeOrder:
        ctx = self._ctx
        channel = ctx.channel_of(payment)
        assert payment.expires_at is not None
        return await ctx.provider(channel).create_native(
            out_trade_no=payment.out_trade_no,
            amount_fen=payment.amount_fen,
            subject=payment.subject,
            notify_url=ctx.notify_url(channel),
            expires_at=payment.expires_at,
        )

    async def _unanswered(self, payment: Payment, exc: Exception) -> Payment:
        ctx = self._ctx
        otn = payment.out_trade_no
        log.warning("native order %s: outcome unknown (%s)", otn, short_error(exc))
        await ctx.attempt(otn, "create_native", "unknown", short_error(exc))
        await note_unresolved(ctx, otn)
        return await apply_trade(ctx, otn, TradeResult(otn, PaymentState.UNKNOWN), "create_native")

    async def _store(self, otn: str, order: NativeOrder) -> Payment:
        ctx = self._ctx

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

        return await ctx.tx.mutate(store)
