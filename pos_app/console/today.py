"""The Today page's figures: one day's takings by store, till, channel, cashier and hour, in SQL.

One grouped query over the day's money-in payments (by the finest grouping: store, till, channel,
cashier, hour) is rolled up here into each view, so every view adds up to the same total.
Counted like the engine's daily report: payments that took the customer's money (PAID, partly or
wholly refunded later) with their amount and what was refunded; net = amount − refunded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, Integer, and_, case, cast, func, or_, select, text
from sqlmodel import Session, col

from pos_app.domain.states import MONEY_IN_STATES, PaymentState
from pos_app.engine.store.models import Payment
from pos_app.engine.store.repo import UNSETTLED_PAYMENT_STATES

MONEY_STATES = tuple(sorted({s.value for s in MONEY_IN_STATES} | {PaymentState.REFUNDED.value}))
CHINA_OFFSET_H = 8


@dataclass
class Totals:
    count: int = 0
    amount_fen: int = 0
    refunded_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.refunded_fen

    def add(self, count: int, amount_fen: int, refunded_fen: int) -> None:
        self.count += count
        self.amount_fen += amount_fen
        self.refunded_fen += refunded_fen


@dataclass
class DayFigures:
    day: str
    total: Totals = field(default_factory=Totals)
    by_store: dict[str, Totals] = field(default_factory=dict)
    by_till: dict[tuple[str, str], Totals] = field(default_factory=dict)
    by_channel: dict[str, Totals] = field(default_factory=dict)  # "" : a one-QR payment no wallet opened
    by_cashier: dict[tuple[str, str], Totals] = field(default_factory=dict)
    by_hour: list[Totals] = field(default_factory=lambda: [Totals() for _ in range(24)])
    unsettled: int = 0  # not settled yet, or flagged for a person to look at

    def sorted_rows(self, table: dict[Any, Totals]) -> list[tuple[Any, Totals]]:
        return sorted(table.items(), key=lambda item: (-item[1].net_fen, item[0]))


def _hour(engine: Engine) -> ColumnElement[int]:
    """The China-time hour (0–23) at which a payment took the money (its creation if paid_at is missing)."""
    at = func.coalesce(col(Payment.paid_at), col(Payment.created_at))
    if engine.dialect.name == "sqlite":
        # UtcDateTime stores naive UTC text; strftime shifts it to China time (UTC+8, no DST).
        return cast(func.strftime("%H", at, f"+{CHINA_OFFSET_H} hours"), Integer)
    return cast(func.extract("hour", at + func.make_interval(0, 0, 0, 0, CHINA_OFFSET_H)), Integer)


def _in_stores(stores: Iterable[str] | None) -> ColumnElement[bool]:
    return col(Payment.store_id).in_(tuple(stores)) if stores is not None else and_(True)


def day_figures(engine: Engine, day: str, stores: tuple[str, ...] | None) -> DayFigures:
    """``stores``: the stores the viewer may see (None: every store)."""
    hour = _hour(engine).label("hour")
    grouped = (
        select(
            col(Payment.store_id),
            col(Payment.terminal_id),
            col(Payment.channel),
            col(Payment.operator),
            hour,
            func.count(),
            func.sum(col(Payment.amount_fen)),
            func.sum(col(Payment.refunded_fen)),
        )
        .where(col(Payment.business_day) == day, col(Payment.state).in_(MONEY_STATES), _in_stores(stores))
        .group_by(col(Payment.store_id), col(Payment.terminal_id), col(Payment.channel), col(Payment.operator), hour)
    )
    open_ones = select(
        func.sum(
            case((or_(col(Payment.state).in_(UNSETTLED_PAYMENT_STATES), col(Payment.needs_attention)), 1), else_=0)
        )
    ).where(col(Payment.business_day) == day, _in_stores(stores))
    figures = DayFigures(day=day)
    with Session(engine) as session:
        rows = session.execute(grouped).all()
        figures.unsettled = int(session.execute(open_ones).scalar_one() or 0)
    for store_id, terminal_id, channel, operator, at_hour, count, amount, refunded in rows:
        values = (int(count), int(amount or 0), int(refunded or 0))
        figures.total.add(*values)
        figures.by_store.setdefault(store_id, Totals()).add(*values)
        figures.by_till.setdefault((store_id, terminal_id), Totals()).add(*values)
        figures.by_channel.setdefault(channel or "", Totals()).add(*values)
        figures.by_cashier.setdefault((store_id, operator), Totals()).add(*values)
        figures.by_hour[int(at_hour) % 24].add(*values)
    return figures


def known_stores(engine: Engine) -> list[str]:
    """Every store with an activated till (an owner's choice of store)."""
    with Session(engine) as session:
        return [row[0] for row in session.execute(text("SELECT DISTINCT store_id FROM terminals ORDER BY 1"))]


@dataclass(frozen=True)
class Bar:
    hour: int
    height: int  # of CHART_HEIGHT
    totals: Totals


CHART_HEIGHT = 120


def hour_bars(figures: DayFigures) -> list[Bar]:
    """The chart of takings by hour (net), scaled to the busiest hour."""
    top = max((t.net_fen for t in figures.by_hour), default=0)
    return [
        Bar(hour=h, height=(t.net_fen * CHART_HEIGHT // top) if top > 0 and t.net_fen > 0 else 0, totals=t)
        for h, t in enumerate(figures.by_hour)
    ]


def day_fingerprint(engine: Engine, day: str, stores: tuple[str, ...] | None) -> str:
    """Changes whenever a payment of the day (in these stores) is added or changes state: the live
    Today page compares it between looks instead of recomputing every figure."""
    statement = select(func.count(), func.max(col(Payment.updated_at))).where(
        col(Payment.business_day) == day, _in_stores(stores)
    )
    with Session(engine) as session:
        count, latest = session.execute(statement).one()
    return f"{int(count)}-{latest}"
