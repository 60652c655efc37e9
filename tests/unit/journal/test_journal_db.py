"""Opening the journal: pragmas, migrations, one transaction per use case."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from journal_kit import wallet_sale
from sqlalchemy import Engine, text
from sqlmodel import select

from pos_app.journal import Counter, Sale, next_seq, open_journal, session_scope
from pos_app.journal.db import alembic_config


def test_pragmas_on_every_connection(journal: Engine) -> None:
    with journal.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrated_to_head_and_reopening_is_harmless(journal_path: Path, journal: Engine) -> None:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with journal.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    wallet_sale(journal)
    again = open_journal(journal_path)
    with session_scope(again) as session:
        assert len(session.exec(select(Sale)).all()) == 1
    again.dispose()
    tables = {
        row[0] for row in sqlite3.connect(journal_path).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert {"sales", "sale_lines", "payment_attempts", "refunds", "shifts", "cash_movements", "staff"} <= tables
    assert {"counters", "events", "outbox", "alembic_version"} <= tables


def test_session_scope_rolls_back_everything_on_error(journal: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(journal) as session:
        assert next_seq(session, "T001") == 1
        raise RuntimeError("power cut")
    with session_scope(journal) as session:
        assert session.get(Counter, ("T001", "trade")) is None
        assert next_seq(session, "T001") == 1


def test_counters_are_durable_and_per_terminal(journal_path: Path, journal: Engine) -> None:
    with session_scope(journal) as session:
        assert [next_seq(session, "T001") for _ in range(3)] == [1, 2, 3]
        assert next_seq(session, "T002") == 1
        assert next_seq(session, "T001", "refund") == 1
    journal.dispose()
    reopened = open_journal(journal_path)
    with session_scope(reopened) as session:
        assert next_seq(session, "T001") == 4
    reopened.dispose()


def test_foreign_keys_are_enforced(journal: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    from pos_app.journal import SaleLine

    with pytest.raises(IntegrityError), session_scope(journal) as session:
        session.add(SaleLine(sale_id=999, line_no=1, name="x", qty=1, unit_fen=1, amount_fen=1))
        session.flush()


def test_migrations_match_the_models(journal: Engine) -> None:
    """A model changed without a migration (or the reverse) shows up as a schema difference.

    Indexes that only migrations declare (covering indexes for reports) are allowed.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from pos_app.journal.models import JournalTable

    with journal.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, JournalTable.metadata)
    assert [d for d in differences if not (isinstance(d, tuple) and d[0] == "remove_index")] == []
