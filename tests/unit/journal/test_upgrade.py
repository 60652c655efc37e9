"""A journal made by the first released schema is backed up, upgraded on open, and loses nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command

from pos_app.journal.cash import record_cash_sale
from pos_app.journal.db import alembic_config, head_revision, open_journal, schema_revision, session_scope
from pos_app.journal.refunds import record_refund
from pos_app.journal.sales import LineIn
from pos_app.journal.shifts import open_shift
from pos_app.journal.verify import verify_chain

FIRST_RELEASE = "0001"
TABLES = ("sales", "sale_lines", "payment_attempts", "refunds", "shifts", "cash_movements", "events", "outbox")


def _journal_at_first_release(path: Path) -> None:
    """A day's business in a journal of release 0001's schema: written by today's code (which needs
    today's tables), then migrated down to 0001, which drops whatever 0001 did not have."""
    engine = open_journal(path)
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        open_shift(session, terminal_id="T001", cashier="Ann", float_fen=50000, at=start)
    for i in range(30):
        with session_scope(engine) as session:
            sale = record_cash_sale(
                session,
                terminal_id="T001",
                store_id="S00001",
                cashier="Ann",
                subject=f"sale {i}",
                at=start + timedelta(minutes=i),
                lines=[LineIn("Tea 茶", 350, 1 + i % 3)],
                tendered_fen=2000,
            )
    with session_scope(engine) as session:
        record_refund(
            session,
            out_trade_no=sale.out_trade_no,
            amount_fen=350,
            cashier="Ann",
            approved_by="Bob",
            at=start + timedelta(hours=1),
            reason="spilt",
        )
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, FIRST_RELEASE)
    assert schema_revision(engine) == FIRST_RELEASE
    engine.dispose()


def _counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def test_first_release_journal_is_backed_up_and_upgraded_intact(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    _journal_at_first_release(path)
    before = _counts(path)
    events_before = _rows(path, "events")
    assert before["sales"] == 30 and before["events"] > 30

    engine = open_journal(path)  # what every command does on start

    assert schema_revision(engine) == head_revision() != FIRST_RELEASE
    backups = list(tmp_path.glob("journal.sqlite3.bak-0001-*"))
    assert len(backups) == 1
    assert _counts(backups[0]) == before  # the copy is the journal as it was
    with sqlite3.connect(backups[0]) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == FIRST_RELEASE
    assert _counts(path) == before  # every row intact
    assert _rows(path, "events") == events_before
    result = verify_chain(engine)
    assert result.ok, str(result)
    engine.dispose()

    verify = subprocess.run(
        [sys.executable, "-m", "pos_app", "journal", "verify", "--path", str(path)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    assert "chain intact" in verify.stdout


def test_opening_a_current_journal_makes_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    open_journal(path).dispose()
    open_journal(path).dispose()
    assert list(tmp_path.glob("*.bak-*")) == []
