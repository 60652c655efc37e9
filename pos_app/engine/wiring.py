"""Builds the engine's use cases over one ledger and one set of providers (the server and tests alike)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo

from sqlalchemy import Engine

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.engine.approvals import Approvals
from pos_app.engine.context import Clock, EngineContext, Sleep, Timings, make_context
from pos_app.engine.events import Events
from pos_app.engine.leases import Leases
from pos_app.engine.native import NativeOrders
from pos_app.engine.notify.notifications import Notifications
from pos_app.engine.page_keys import PageKeys
from pos_app.engine.payments import Payments
from pos_app.engine.providers.base import PaymentProvider
from pos_app.engine.providers.web_pay import WebPayClients
from pos_app.engine.refunds import Refunds
from pos_app.engine.reports import Reports
from pos_app.engine.settling import Resolver, Settling
from pos_app.engine.voids import Voids
from pos_app.engine.wallet_pages import WalletPages


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
    #: The one-QR and store-QR pages (their clients are closed with the use cases).
    pages: WalletPages

    def channel_states(self) -> dict[str, str]:
        """Each configured channel's breaker state (for /readyz and /metrics)."""
        return self.context.channel_states()

    def flagged_notifications(self) -> dict[str, int]:
        """Notifications this process kept for attention instead of applying them, by channel."""
        return self.notifications.flagged_counts()

    async def wait_idle(self) -> None:
        """Wait until every background settling task of this process has finished."""
        await self.context.tasks.wait_idle()

    async def aclose(self) -> None:
        """Stop background tasks (their payments stay in the ledger for the resolver); let the
        queued notifications commit."""
        await self.context.tasks.cancel_all()
        await self.notifications.aclose()
        await self.pages.web.aclose()


def build_use_cases(
    ledger: Engine,
    providers: Mapping[Channel, PaymentProvider],
    settings: Settings,
    *,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    business_tz: tzinfo = CHINA_TZ,
    timings: Timings | None = None,
    web: WebPayClients | None = None,
    page_secret: bytes | None = None,
) -> UseCases:
    """``web``: the one-QR pages' clients (None: not served); ``page_secret``: what the pages' own
    tokens are keyed from — the same for every engine process of one ledger (default: random)."""
    ctx = make_context(ledger, providers, settings, clock=clock, sleep=sleep, business_tz=business_tz, timings=timings)
    leases = Leases(ctx)
    native = NativeOrders(ctx)
    settling = Settling(ctx, leases, native)
    approvals = Approvals(ctx)
    refunds = Refunds(ctx, approvals)
    notifications = Notifications(ctx)
    pages = WalletPages(ctx, settling, web or WebPayClients(), PageKeys(page_secret or secrets.token_bytes(32)))
    return UseCases(
        context=ctx,
        payments=Payments(ctx, leases, settling, native, Voids(ctx, approvals, refunds), pages),
        refunds=refunds,
        notifications=notifications,
        resolver=Resolver(ctx, leases, settling, refunds, notifications),
        events=Events(ctx),
        reports=Reports(ctx),
        pages=pages,
    )
