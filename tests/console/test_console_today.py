"""The Today figures on SQLite, beside what Python computes from the raw rows: every view (store,
till, channel, cashier, hour in China time) sums the same payments; unsettled ones are counted."""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from datetime import UTC, datetime

from pos_app.config import Settings
from pos_app.console.today import MONEY_STATES, day_figures, hour_bars
from pos_app.domain.china_time import in_china
from pos_app.engine.store import make_engine
from tests.console.support import DAY, STORE_B


def test_every_view_matches_the_raw_rows(console_settings: Settings) -> None:
    path = console_settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT store_id, terminal_id, channel, operator, state, amount_fen, refunded_fen, paid_at, created_at,"
            " needs_attention FROM payments WHERE business_day = ?",
            (DAY,),
        ).fetchall()
    kept = [r for r in rows if r[4] in MONEY_STATES]
    engine = make_engine(console_settings.database_url)
    figures = day_figures(engine, DAY, None)
    engine.dispose()

    def counted(index: int) -> Counter[object]:
        return Counter(r[index] for r in kept)

    assert {k: t.count for k, t in figures.by_store.items()} == counted(0)
    assert {k[1]: t.count for k, t in figures.by_till.items()} == counted(1)
    assert {k: t.count for k, t in figures.by_channel.items()} == counted(2)
    assert Counter({k[1]: t.count for k, t in figures.by_cashier.items() if k[0] == STORE_B}) == Counter(
        r[3] for r in kept if r[0] == STORE_B
    )
    hours = Counter(in_china(datetime.fromisoformat(r[7] or r[8]).replace(tzinfo=UTC)).hour for r in kept)
    assert {h: t.count for h, t in enumerate(figures.by_hour) if t.count} == dict(hours)
    assert sum(t.net_fen for t in figures.by_hour) == figures.total.net_fen
    unsettled = [r for r in rows if r[4] in ("CREATED", "AWAITING_SCAN", "SUBMITTED", "USER_PAYING", "UNKNOWN") or r[9]]
    assert figures.unsettled == len(unsettled) > 0
    bars = hour_bars(figures)
    assert max(b.height for b in bars) == 120 and all(b.height == 0 for b in bars if not b.totals.count)
