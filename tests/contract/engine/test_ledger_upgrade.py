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
