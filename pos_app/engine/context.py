"""What every use case shares: ledger transactions, providers, clock, timings, background tasks, wake-ups.

One :class:`EngineContext` per engine process; all state that matters lives in the ledger, so several
processes (each with its own context) can serve one database.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import Engine
from sqlmodel import Session

from pos_app.api.schemas import ChannelStatus
from pos_app.config import EngineSettings, Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.engine.breakers import BreakerPolicy, CircuitBreaker, GuardedProvider
from pos_app.engine.errors import ChannelUnavailable, PaymentNotFound
from pos_app.engine.providers.base import PaymentProvider
from pos_app.engine.store import repo
from pos_app.engine.store.models import Payment
from pos_app.engine.store.rows import PaymentRecord
from pos_app.engine.store.transactions import Transactions

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

#: How long a native QR code may be paid before the engine closes the order.
QR_LIFETIME = timedelta(minutes=5)
#: Micropay USER_PAYING / UNKNOWN: query this often...
POLL_INTERVAL_S = 5.0
#: ...until this long after the submit, then reverse (WeChat) / cancel (Alipay).
MICROPAY_DEADLINES: Mapping[Channel, timedelta] = {
    Channel.WECHAT: timedelta(seconds=45),
    Channel.ALIPAY: timedelta(seconds=60),
}
#: Unanswered gateway calls for one payment before it is flagged for a person to look at.
ATTENTION_AFTER = 10
#: A process settling a payment holds it this long; another process takes over after that. The
#: holder renews it every LEASE_RENEW_S while it lives, so a dead process's payments are taken over
#: by another process's resolver within LEASE (+ one resolver interval).
LEASE = timedelta(seconds=10)
LEASE_RENEW_S = 3.0

_GATEWAY_CALLBACK_PATHS: Mapping[Channel, str] = {
    Channel.WECHAT: "/notify/wechatpay",
    Channel.ALIPAY: "/notify/alipay",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Timings:
    """How long the engine waits for what; injectable so that tests and drills need not wait."""

    qr_lifetime: timedelta = QR_LIFETIME
    poll_interval_s: float = POLL_INTERVAL_S
    micropay_deadlines: Mapping[Channel, timedelta] = field(default_factory=lambda: dict(MICROPAY_DEADLINES))
    attention_after: int = ATTENTION_AFTER
    lease: timedelta = LEASE
    lease_renew_s: float = LEASE_RENEW_S
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)

    @classmethod
    def from_settings(cls, engine: EngineSettings) -> Timings:
        """The defaults, with the lease timings of ``[engine]`` (POS_ENGINE__LEASE_S, ...)."""
        return cls(lease=timedelta(seconds=engine.lease_s), lease_renew_s=engine.lease_renew_s)


class Wakeup:
    """Wakes this process's event streams when it changed the ledger (others re-read on a timer)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        waiting, self._event = self._event, asyncio.Event()
        waiting.set()

    def signal(self) -> asyncio.Event:
        """Set at the next :meth:`wake`; take it before reading so that no change slips in between."""
        return self._event


class BackgroundTasks:
    """The settling tasks this process runs in the background, one per payment or refund number."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._driving: set[str] = set()

    def driving(self, key: str) -> bool:
        """Whether a task of this process is settling ``key`` (the resolver leaves it alone)."""
        return key in self._driving

    def spawn(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background settling of %s failed; the resolver will retry", key)
            finally:
                self._driving.discard(key)

        self._driving.add(key)
        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Wait until every task has finished (including tasks those tasks started)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_all(self) -> None:
        """Stop every task: their payments stay in the ledger for the resolver."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass(eq=False)
class EngineContext:
    """The shared state handed to each use case (instead of one class holding everything)."""

    tx: Transactions
    providers: Mapping[Channel, PaymentProvider]
    settings: Settings
    clock: Clock
    sleep: Sleep
    business_tz: tzinfo
    timings: Timings
    tasks: BackgroundTasks
    wakeup: Wakeup
    #: Names this process on the leases it holds (renewed while it lives).
    owner: str
    #: Each channel's breaker and bulkhead around its provider (this process's own view of its gateway).
    guards: Mapping[Channel, GuardedProvider] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    def business_day(self, at: datetime) -> str:
        """Business days (daily report, same-day voids) follow the business time zone (China)."""
        return at.astimezone(self.business_tz).date().isoformat()

    def provider(self, channel: Channel) -> PaymentProvider:
        provider = self.providers.get(channel)
        if provider is None:
            raise ChannelUnavailable(f"{channel.label} is not set up on this engine — use another payment method.")
        return provider

    def channel_of(self, payment: PaymentRecord) -> Channel:
        """The payment's wallet channel. A one-QR payment has none until a wallet opens its page, and
        then no gateway knows it: callers settle such a payment locally before asking for this."""
        if payment.channel is None:
            raise ChannelUnavailable("No wallet has opened this payment's page yet.")
        return Channel(payment.channel)

    def channel_states(self) -> dict[str, str]:
        """Each configured channel's breaker state ("closed", "open", "half_open"), for /readyz and /metrics."""
        return {channel.value: guard.breaker.state.value for channel, guard in self.guards.items()}

    def channel_status(self) -> list[ChannelStatus]:
        """Whether each configured channel takes new payments now, and if not, what to tell the cashier."""
        statuses = []
        for channel, guard in self.guards.items():
            available = guard.breaker.admits()
            statuses.append(
                ChannelStatus(
                    channel=channel,
                    state=guard.breaker.state.value,
                    available=available,
                    message=None if available else guard.unavailable,
                    retry_after_s=None if available else math.ceil(guard.breaker.retry_after_s()),
                )
            )
        return statuses

    def notify_url(self, channel: Channel) -> str:
        return self.settings.engine.public_url.rstrip("/") + _GATEWAY_CALLBACK_PATHS[channel]

    async def attempt(
        self, out_trade_no: str, op: str, outcome: str, detail: str | None = None, out_refund_no: str | None = None
    ) -> None:
        """Record one gateway call and how it ended."""
        now = self.now()

        def write(session: Session) -> None:
            repo.record_attempt(session, out_trade_no, op, outcome, now, detail=detail, out_refund_no=out_refund_no)

        await self.tx.write(write)

    async def load_payment(self, out_trade_no: str) -> Payment:
        payment = await self.tx.read(repo.get_payment, out_trade_no)
        if payment is None:
            raise PaymentNotFound()
        return payment

    async def load_for_terminal(self, terminal_id: str, out_trade_no: str) -> Payment:
        """The payment, if it belongs to ``terminal_id`` (another terminal's is "not found")."""
        payment = await self.load_payment(out_trade_no)
        if payment.terminal_id != terminal_id:
            raise PaymentNotFound()
        return payment


def make_context(
    ledger: Engine,
    providers: Mapping[Channel, PaymentProvider],
    settings: Settings,
    *,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    business_tz: tzinfo = CHINA_TZ,
    timings: Timings | None = None,
) -> EngineContext:
    wakeup = Wakeup()
    clock = clock or _utcnow
    timings = timings or Timings.from_settings(settings.engine)
    guards = {
        channel: GuardedProvider(
            provider,
            CircuitBreaker(channel, timings.breaker, lambda: clock().timestamp()),
            timings.breaker,
            _alternatives(channel, providers),
        )
        for channel, provider in providers.items()
    }
    return EngineContext(
        tx=Transactions(ledger, on_change=wakeup.wake),
        providers=dict(guards),
        settings=settings,
        clock=clock,
        sleep=sleep or asyncio.sleep,
        business_tz=business_tz,
        timings=timings,
        tasks=BackgroundTasks(),
        wakeup=wakeup,
        owner=f"{os.getpid()}-{secrets.token_hex(8)}",
        guards=guards,
    )


def _alternatives(channel: Channel, providers: Mapping[Channel, PaymentProvider]) -> str:
    """What a cashier can take instead of ``channel``: "Alipay or cash"."""
    return " or ".join([other.label for other in providers if other is not channel] + ["cash"])
