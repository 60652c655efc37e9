"""Reports from the ledger: a day's totals by channel, and the payments still unsettled or flagged."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from pos_app.api.schemas import ChannelTotals, DailyReport, PaymentView
from pos_app.domain.routing import Channel
from pos_app.domain.states import MONEY_IN_STATES, SETTLED_STATES, PaymentState
from pos_app.engine.context import EngineContext
from pos_app.engine.store import repo

_MONEY_STATES = {s.value for s in MONEY_IN_STATES} | {PaymentState.REFUNDED.value}


def _unsettled_views(session: Session) -> list[PaymentView]:
    return [repo.payment_view(p) for p in repo.attention_payments(session)]


class Reports:
    """The daily report and the unsettled list."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def daily_report(self, day: date, terminal_id: str | None = None) -> DailyReport:
        payments = await self._ctx.tx.read(repo.payments_of_day, day.isoformat(), terminal_id)
        totals: dict[Channel, ChannelTotals] = {
            channel: ChannelTotals(channel=channel, count=0, amount_fen=0, refunded_fen=0)
            for channel in (Channel.WECHAT, Channel.ALIPAY)
            if channel in self._ctx.providers
        }
        for p in payments:
            channel = Channel(p.channel)
            line = totals.setdefault(channel, ChannelTotals(channel=channel, count=0, amount_fen=0, refunded_fen=0))
            if p.state in _MONEY_STATES:
                line.count += 1
                line.amount_fen += p.amount_fen
                line.refunded_fen += p.refunded_fen
        unsettled = [
            repo.payment_view(p) for p in payments if PaymentState(p.state) not in SETTLED_STATES or p.needs_attention
        ]
        return DailyReport(
            date=day.isoformat(), terminal_id=terminal_id, totals=list(totals.values()), unsettled=unsettled
        )

    async def unsettled(self) -> list[PaymentView]:
        """Every payment not settled yet, and every one flagged for a person to look at."""
        return await self._ctx.tx.read(_unsettled_views)
