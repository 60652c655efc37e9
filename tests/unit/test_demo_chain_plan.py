"""The demo chain's plan is pure and seeded: the same seed gives the same days, a different seed others;
every day stays within business hours (China time) and each till is served by its own store's cashier."""

from __future__ import annotations

from datetime import date, time

from pos_app.demo_chain.plan import CHAIN, Kind, plan_days
from pos_app.demo_chain.run import batches
from pos_app.domain.china_time import CHINA_TZ

LAST = date(2026, 12, 5)  # a Saturday


def test_same_seed_same_days_other_seed_other_days() -> None:
    assert plan_days(3, last_day=LAST, seed=7) == plan_days(3, last_day=LAST, seed=7)
    assert plan_days(3, last_day=LAST, seed=7) != plan_days(3, last_day=LAST, seed=8)


def test_days_hours_amounts_and_staff() -> None:
    days = plan_days(7, last_day=LAST, seed=1)
    assert [d.day for d in days] == [date(2026, 11, 29 + n) if n < 2 else date(2026, 12, n - 1) for n in range(7)]
    cashiers = {store.store_id: {p.name for p in store.cashiers} for store in CHAIN}
    for day in days:
        for op in day.ops:
            local = op.at.astimezone(CHINA_TZ)
            assert local.date() == day.day and time(8) <= local.time() < time(21)
            assert op.cashier in cashiers[op.till.store_id]
            assert op.kind in (Kind.REFUND, Kind.VOID_WALLET, Kind.VOID_CASH) or op.amount_fen > 0
            assert op.amount_fen % 10 == 0  # cash is counted in jiao
    weekend = [len(d.ops) for d in days if d.day.weekday() >= 5]
    weekdays = [len(d.ops) for d in days if d.day.weekday() < 5]
    assert sum(weekend) / len(weekend) > sum(weekdays) / len(weekdays)


def test_batches_keep_each_tills_order_and_never_hold_a_till_twice() -> None:
    ops = plan_days(1, last_day=LAST, seed=2)[0].ops
    grouped = list(batches(ops))
    assert [op for batch in grouped for op in batch] == list(ops)
    for batch in grouped:
        assert len({op.till for op in batch}) == len(batch)
        assert (batch[-1].at - batch[0].at).total_seconds() <= 600
