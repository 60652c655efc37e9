"""The console on a PostgreSQL ledger: the Today figures (the hour in China time is computed by the
database) and the search equal what Python sums from the raw rows; sign-in and sessions work there too."""

from __future__ import annotations

from collections import Counter
from datetime import UTC
from pathlib import Path

import httpx
from sqlalchemy import text

from pos_app.console.search import PaymentQuery, search_payments
from pos_app.console.today import MONEY_STATES, day_figures
from pos_app.domain.china_time import in_china
from pos_app.engine.store import make_engine
from tests.console.support import DAY, OWNER, PASSWORD, STORE_A, http_sign_in, seed, serve_console, write_profile


def test_today_and_search_on_postgresql(pg_database: str, tmp_path: Path) -> None:
    settings = write_profile(tmp_path / "profile", pg_database)
    seed(settings)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT store_id, state, amount_fen, refunded_fen, paid_at, created_at FROM payments "
                 "WHERE business_day = :d"), {"d": DAY}
        ).all()  # fmt: skip
    kept = [r for r in rows if r.state in MONEY_STATES]
    figures = day_figures(engine, DAY, None)
    assert (figures.total.count, figures.total.amount_fen, figures.total.refunded_fen) == (
        len(kept), sum(r.amount_fen for r in kept), sum(r.refunded_fen for r in kept)
    )  # fmt: skip
    # The database's hour (UTC+8) is the hour a person in China read on the clock.
    hours = Counter(in_china((r.paid_at or r.created_at).replace(tzinfo=UTC)).hour for r in kept)
    assert {h: t.count for h, t in enumerate(figures.by_hour) if t.count} == dict(hours)
    mine = day_figures(engine, DAY, (STORE_A,))
    assert set(mine.by_store) == {STORE_A}
    found = search_payments(engine, PaymentQuery(amount_fen=174), None)
    assert found and all(p.amount_fen == 174 for p in found)
    engine.dispose()
    with serve_console(settings) as url, httpx.Client(base_url=url) as client:
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        assert client.get("/today", params={"day": DAY}).status_code == 200
