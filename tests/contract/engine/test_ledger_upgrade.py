"""An engine ledger made by the first released schema is backed up and upgraded with every row intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pos_app.engine.store.db import make_engine, migrate, open_ledger

FIRST_RELEASE = "0001"


def test_first_release_ledger_is_backed_up_then_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "engine.sqlite3"
    url = f"sqlite:///{path}"
    old = make_engine(url)
    migrate(old, FIRST_RELEASE)
    old.dispose()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO terminals (terminal_id, store_id, name, key_b64, activated_at, disabled)"
            " VALUES (?, ?, ?, ?, ?, 0)",
            ("T001", "S00001", "Till 1", "a2V5", "2026-11-20 09:00:00.000000"),
        )
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    engine = open_ledger(url)
    try:
        with engine.connect() as connection:
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            assert version != FIRST_RELEASE
            assert connection.exec_driver_sql("SELECT store_id FROM terminals").scalar() == "S00001"
    finally:
        engine.dispose()
    backups = list(tmp_path.glob("engine.sqlite3.bak-0001-*"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == FIRST_RELEASE
        assert db.execute("SELECT COUNT(*) FROM terminals").fetchone()[0] == 1
        assert sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")) == sorted(tables)
    open_ledger(url).dispose()  # already current: no second backup
    assert len(list(tmp_path.glob("engine.sqlite3.bak-*"))) == 1


def test_a_ledger_before_last_seen_upgrades_with_its_tills_unknown(tmp_path: Path) -> None:
    """0007 adds the Terminals page's last seen, version and journal head: NULL ("—") until the till calls."""
    from pos_app.console.terminals import tills

    path = tmp_path / "engine.sqlite3"
    url = f"sqlite:///{path}"
    old = make_engine(url)
    migrate(old, "0006")
    old.dispose()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO terminals (terminal_id, store_id, name, sealed_key, activated_at, disabled)"
            " VALUES (?, ?, ?, ?, ?, 0)",
            ("T001", "S00001", "Till 1", "sealed", "2026-11-20 09:00:00.000000"),
        )
    engine = open_ledger(url)
    try:
        (row,) = tills(engine, None)
        assert (row.terminal_id, row.store_id, row.name) == ("T001", "S00001", "Till 1")
        assert (row.version, row.last_seen, row.seen_minutes, row.unsent) == (None, None, None, None)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE terminals SET version = '0.1.0', journal_head_seq = 4,"
                " last_seen_at = '2026-12-06 04:00:00.000000'"
            )
        from datetime import UTC, datetime

        (row,) = tills(engine, None, now=datetime(2026, 12, 6, 4, 7, 30, tzinfo=UTC))
        assert (row.version, row.seen_minutes, row.unsent) == ("0.1.0", 7, 4)
    finally:
        engine.dispose()
