"""A sale's business day is the store's local date, whatever time zone the caller's clock uses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from pos_app.journal.cash import record_cash_sale
from pos_app.journal.db import open_journal, session_scope
from pos_app.journal.figures import daily_totals


def test_early_morning_sale_in_beijing_belongs_to_the_local_day(beijing_machine: None, tmp_path: Path) -> None:
    journal = open_journal(tmp_path / "journal.sqlite3")
    # 07:30 on 23 November in Beijing is 23:30 on 22 November in UTC.
    with session_scope(journal) as session:
        sale = record_cash_sale(
            session,
            terminal_id="T001",
            store_id="S00001",
            cashier="Ann",
            subject="breakfast",
            at=datetime(2026, 11, 22, 23, 30, tzinfo=UTC),
            amount_fen=1200,
        )
    assert sale.business_day == "2026-11-23"
    with session_scope(journal) as session:
        assert daily_totals(session, date(2026, 11, 23)).total.as_dict()["sales_fen"] == 1200
        assert daily_totals(session, date(2026, 11, 22)).total.as_dict()["sales_fen"] == 0
