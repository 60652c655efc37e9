"""A provider whose gateway calls pass its channel's circuit breaker, bulkhead and call deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import TypeVar

from pos_app.domain.routing import Channel
from pos_app.engine.breakers.breaker import BreakerPolicy, CircuitBreaker
from pos_app.engine.breakers.bulkhead import Bulkhead, ChannelBusy
from pos_app.engine.providers.base import (
    GatewayError,
    NativeOrder,
    Notification,
    NotificationAck,
    OutcomeUnknownError,
    PaymentProvider,
    RefundResult,
    ReverseResult,
    TradeResult,
)

T = TypeVar("T")


class GuardedProvider:
    """Wraps a :class:`PaymentProvider`: every gateway call is admitted by the breaker (or fails fast
    with :class:`CircuitOpen`), holds a bulkhead slot, and is given up after the policy's deadline
    (an unknown outcome, settled by query like any other). An answer, even a decline, tells the
    breaker the gateway works; a timeout, lost connection or system error tells it it does not.

    New payments (native, micropay) are refused with what the cashier can do instead; settling calls
    (query, close, reverse) are refused without calling, and tried again by their callers. Refunds
    only take a slot and keep the deadline: a refund API failing says nothing about taking payments
    (and the refunds' own retries already back off), so it neither opens nor waits on the breaker."""

    def __init__(
        self, provider: PaymentProvider, breaker: CircuitBreaker, policy: BreakerPolicy, alternatives: str
    ) -> None:
        self.channel: Channel = provider.channel
        self._provider = provider
        self.breaker = breaker
        self._policy = policy
        self._bulkhead = Bulkhead(policy.max_in_flight)
        label = provider.channel.label
        #: The cashier's words for a payment refused without calling (``alternatives``: "Alipay or cash").
        self.unavailable = f"{label} is not answering — use {alternatives}."
        self._not_answering = f"{label} is not answering — the engine tries again by itself."
        self._busy_create = f"{label} is busy — try again in a moment, or use {alternatives}."

    @property
    def in_flight(self) -> int:
        return self._bulkhead.in_flight

    async def _call(self, call: Callable[[], Awaitable[T]], *, create: bool) -> T:
        breaker = self.breaker
        probe = breaker.admit(self.unavailable if create else self._not_answering)
        try:
            result = await self._bounded(call, create=create)
        except ChannelBusy:
            breaker.abandoned(probe=probe)
            raise
        except OutcomeUnknownError:
            breaker.failed(probe=probe)
            raise
        except GatewayError:  # a definite answer: declined, not found, refused configuration
            breaker.succeeded(probe=probe)
            raise
        except BaseException:
            breaker.abandoned(probe=probe)
            raise
        breaker.succeeded(probe=probe)
        return result

    async def _bounded(self, call: Callable[[], Awaitable[T]], *, create: bool) -> T:
        """The call in a bulkhead slot and within the deadline (TIMEOUT: outcome unknown)."""
        async with self._bulkhead.slot(wait_s=self._policy.busy_wait_s if create else None, busy=self._busy_create):
            try:
                async with asyncio.timeout(self._policy.call_timeout_s):
                    return await call()
            except TimeoutError:
                raise OutcomeUnknownError(
                    f"{self.channel.label} did not answer in time — the result is being checked, do not charge again.",
                    code="TIMEOUT",
                ) from None

    async def guarded_create(self, call: Callable[[], Awaitable[T]]) -> T:
        """A payment-creating call that is not part of the provider protocol (the one-QR pages' JSAPI
        prepay / trade.create), admitted and bounded like ``create_native``."""
        return await self._call(call, create=True)

    async def create_native(
        self, *, out_trade_no: str, amount_fen: int, subject: str, notify_url: str, expires_at: datetime
    ) -> NativeOrder:
        return await self._call(
            lambda: self._provider.create_native(
                out_trade_no=out_trade_no,
                amount_fen=amount_fen,
                subject=subject,
                notify_url=notify_url,
                expires_at=expires_at,
            ),
            create=True,
        )

    async def micropay(
        self, *, out_trade_no: str, amount_fen: int, subject: str, auth_code: str, store_id: str, device_id: str
    ) -> TradeResult:
        return await self._call(
            lambda: self._provider.micropay(
                out_trade_no=out_trade_no,
                amount_fen=amount_fen,
                subject=subject,
                auth_code=auth_code,
                store_id=store_id,
                device_id=device_id,
            ),
            create=True,
        )

    async def query(self, out_trade_no: str) -> TradeResult:
        return await self._call(lambda: self._provider.query(out_trade_no), create=False)

    async def close(self, out_trade_no: str) -> TradeResult:
        return await self._call(lambda: self._provider.close(out_trade_no), create=False)

    async def reverse(self, out_trade_no: str) -> ReverseResult:
        return await self._call(lambda: self._provider.reverse(out_trade_no), create=False)

    async def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str | None,
    ) -> RefundResult:
        return await self._bounded(
            lambda: self._provider.refund(
                out_trade_no=out_trade_no,
                out_refund_no=out_refund_no,
                amount_fen=amount_fen,
                total_fen=total_fen,
                reason=reason,
                notify_url=notify_url,
            ),
            create=False,
        )

    async def refund_query(self, *, out_trade_no: str, out_refund_no: str) -> RefundResult:
        return await self._bounded(
            lambda: self._provider.refund_query(out_trade_no=out_trade_no, out_refund_no=out_refund_no), create=False
        )

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return self._provider.parse_notification(headers, body)

    def ack(self, ok: bool) -> NotificationAck:
        return self._provider.ack(ok)

    async def download_bill(self, bill_date: date) -> bytes:
        return await self._provider.download_bill(bill_date)

    async def aclose(self) -> None:
        await self._provider.aclose()
