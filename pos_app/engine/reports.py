"""Reports from the ledger: a day's totals by channel, its unsettled or flagged payments and notifications,
the journal-vs-ledger comparison."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from pos_app.api.schemas import ChannelTotals, DailyReport, PaymentView
from pos_app.domain.routing import Channel
from pos_app.domain.states import MONEY_IN_STATES, SETTLED_STATES, PaymentState
from pos_app.engine.context import EngineContext
from pos_app.engine.notify.flagged import flagged_notifications
from pos_app.engine.scope import ReadScope
from pos_app.engine.store import repo
from pos_app.engine.sync_compare import TerminalDayComparison, compare_day, store_terminals

_MONEY_STATES = {s.value for s in MONEY_IN_STATES} | {PaymentState.REFUNDED.value}


def _unsettled_views(session: Session) -> list[PaymentView]:
    return [repo.payment_view(p) for p in repo.attention_payments(session)]


def _terminal_days(session: Session, day: date, scope: ReadScope) -> list[TerminalDayComparison]:
    ids = [scope.terminal_id] if scope.terminal_id is not None else store_terminals(session, scope.store_id)
    return compare_day(session, day, ids)


class Reports:
    """The daily report, the per-terminal comparison (both within a caller's scope) and the unsettled list."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def daily_report(self, day: date, scope: ReadScope) -> DailyReport:
        payments = await self._ctx.tx.read(
            repo.payments_of_day, day.isoformat(), store_id=scope.store_id, terminal_id=scope.terminal_id
        )
        totals: dict[Channel, ChannelTotals] = {
            channel: ChannelTotals(channel=channel, count=0, amount_fen=0, refunded_fen=0)
            for channel in (Channel.WECHAT, Channel.ALIPAY)
            if channel in self._ctx.providers
        }
        for p in payments:
            if p.channel is None:
                continue  # a one-QR page no wallet opened: no money can have moved
            channel = Channel(p.channel)
            line = totals.setdefault(channel, ChannelTotals(channel=channel, count=0, amount_fen=0, refunded_fen=0))
            if p.state in _MONEY_STATES:
                line.count += 1
                line.amount_fen += p.amount_fen
                line.refunded_fen += p.refunded_fen
        unsettled = [
            repo.payment_view(p) for p in payments if PaymentState(p.state) not in SETTLED_STATES or p.needs_attention
        ]
        flagged = await self._ctx.tx.read(
            flagged_notifications, day.isoformat(), terminal_id=scope.terminal_id, store_id=scope.store_id
        )
        return DailyReport(
            date=day.isoformat(),
            terminal_id=scope.terminal_id,
            totals=list(totals.values()),
            unsettled=unsettled,
            flagged_notifications=flagged,
        )

    async def terminal_days(self, day: date, scope: ReadScope) -> list[TerminalDayComparison]:
        """Per terminal in ``scope``: its synced journal's totals beside the ledger's, and every difference."""
        return await self._ctx.tx.read(_terminal_days, day, scope)

    async def unsettled(self) -> list[PaymentView]:
        """Every payment not settled yet, and every one flagged for a person to look at (every store:
        for the operator's metrics, never answered to a terminal)."""
        return await self._ctx.tx.read(_unsettled_views)
