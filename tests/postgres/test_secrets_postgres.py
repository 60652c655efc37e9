"""Secrets at rest on PostgreSQL: a ledger of the previous schema is upgraded and its clear terminal
keys sealed under the ledger key file."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from pos_app.engine.store.db import make_engine, migrate
from pos_app.engine.store.terminals import Terminal, TerminalRegistry

pytestmark = pytest.mark.postgres


def test_a_ledger_of_the_previous_schema_is_upgraded_and_its_clear_keys_sealed(
    pg_database: str, tmp_path: Path
) -> None:
    old = make_engine(pg_database)
    migrate(old, "0002")
    key = secrets.token_bytes(32)
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO terminals (terminal_id, store_id, name, key_b64, activated_at, disabled)"
                " VALUES ('T001', 'S00001', 'Till 1', :key, :at, false)"
            ),
            {"key": base64.urlsafe_b64encode(key).decode(), "at": datetime.now(UTC)},
        )
    old.dispose()
    registry = TerminalRegistry.open(pg_database, tmp_path / "ledger.key")
    try:
        with Session(registry.engine) as session:
            row = session.get(Terminal, "T001")
            assert row is not None and row.key_b64 is None and row.sealed_key
            assert session.execute(text("SELECT count(*) FROM managers")).scalar_one() == 0
        assert registry.terminal_key("T001") == ("S00001", key)
    finally:
        registry.close()
