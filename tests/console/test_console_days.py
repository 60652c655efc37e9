"""The console's day-limited comparison answers exactly what the engine's own comparison answers."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from pos_app.config import Settings
from pos_app.console.days import compare_till_day
from pos_app.engine.store import open_ledger
from pos_app.engine.sync_compare import compare_terminal_day
from tests.console.support import DAY, OTHER_DAY


def test_the_console_compares_like_the_engine(console_settings: Settings) -> None:
    ledger = open_ledger(console_settings.database_url)
    with Session(ledger) as session:
        for till in ("T001", "T002", "U001"):
            for day in (DAY, OTHER_DAY):
                ours = compare_till_day(session, till, date.fromisoformat(day))
                assert ours == compare_terminal_day(session, till, date.fromisoformat(day))
        assert compare_till_day(session, "T001", date.fromisoformat(DAY)).differences  # the seeded ones
    ledger.dispose()
