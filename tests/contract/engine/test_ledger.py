"""The ledger database itself: migrations to head match the models, SQLite pragmas, reopening."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import pos_app.engine.store.terminals  # noqa: F401  (its tables are part of the ledger)
from pos_app.engine.store import open_ledger
from pos_app.engine.store.base import LedgerTable


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), LedgerTable.metadata)
    assert diff == []
    assert {"payments", "refunds", "notification_inbox", "status_events", "terminals", "terminal_nonces"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_sqlite_runs_in_wal_with_a_busy_timeout_and_reopens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'ledger.sqlite3'}"
    engine = open_ledger(url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() >= 5000
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
    engine.dispose()
    again = open_ledger(url)  # already at head: nothing to do, no error
    with again.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    again.dispose()


def test_sqlite_readers_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    import time

    from pos_app.engine.store.db import reader

    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with engine.begin() as writer:  # BEGIN IMMEDIATE: holds the write lock
        writer.execute(text("UPDATE payments SET version = version"))
        started = time.monotonic()
        with reader(engine).begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM payments")).scalar_one() == 0
        assert time.monotonic() - started < 2.0
    engine.dispose()


def test_the_plain_payment_row_has_every_payments_column() -> None:
    """The notification hot path builds a PaymentRow from every column of ``payments`` by name."""
    from dataclasses import fields

    from pos_app.engine.store.models import Payment
    from pos_app.engine.store.rows import PaymentRow

    table = Payment.__table__  # type: ignore[attr-defined]
    assert [f.name for f in fields(PaymentRow)] == [c.name for c in table.columns]
