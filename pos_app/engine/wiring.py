"""Builds the engine's use cases over one ledger and one set of providers (the server and tests alike)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo

from sqlalchemy import Engine

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.engine.context import Clock, EngineContext, Sleep, Timings, make_context
from pos_app.engine.events import Events
from pos_app.engine.leases import Leases
from pos_app.engine.notify.notifications import Notifications
from pos_app.engine.payments import Payments
from pos_app.engine.providers.base import PaymentProvider
from pos_app.engine.refunds import Refunds
from pos_app.engine.reports import Reports
from pos_app.engine.settling import Resolver, Settling


@dataclass(frozen=True, eq=False)
class UseCases:
    """One engine process's use cases, sharing one :class:`EngineContext`."""

    context: EngineContext
    payments: Payments
    refunds: Refunds
    notifications: Notifications
    resolver: Resolver
    events: Events
    reports: Reports

    async def wait_idle(self) -> None:
        """Wait until every background settling task of this process has finished."""
        await self.context.tasks.wait_idle()

    async def aclose(self) -> None:
        """Stop background tasks (their payments stay in the ledger for the resolver); let the
        queued notifications commit."""
        await self.context.tasks.cancel_all()
        await self.notifications.aclose()


def build_use_cases(
    ledger: Engine,
    providers: Mapping[Channel, PaymentProvider],
    settings: Settings,
    *,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    business_tz: tzinfo = CHINA_TZ,
    timings: Timings | None = None,
) -> UseCases:
    ctx = make_context(ledger, providers, settings, clock=clock, sleep=sleep, business_tz=business_tz, timings=timings)
    leases = Leases(ctx)
    settling = Settling(ctx, leases)
    refunds = Refunds(ctx)
    notifications = Notifications(ctx)
    return UseCases(
        context=ctx,
        payments=Payments(ctx, leases, settling),
        refunds=refunds,
        notifications=notifications,
        resolver=Resolver(ctx, leases, settling, refunds, notifications),
        events=Events(ctx),
        reports=Reports(ctx),
    )
