"""The terminal registry on PostgreSQL (several engine processes share one database)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from test_api_sync import chain

from pos_app.engine.store.synced_journal import IncomingEvent, SyncConflict
from pos_app.engine.store.terminals import ActivationError, TerminalRegistry

pytestmark = pytest.mark.postgres


@pytest.fixture
def registries(pg_url: str, tmp_path: Path) -> Iterator[tuple[TerminalRegistry, TerminalRegistry]]:
    schema = "h6_" + secrets.token_hex(4)
    from sqlalchemy import create_engine

    bootstrap = create_engine(pg_url)
    with bootstrap.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{pg_url}?options=-csearch_path%3D{schema}"
    # Two engine processes share the ledger and its key file (the first one to start makes it).
    key_file = tmp_path / "keys" / "ledger.key"
    first, second = TerminalRegistry.open(url, key_file), TerminalRegistry.open(url, key_file)
    try:
        yield first, second
    finally:
        first.close()
        second.close()
        with bootstrap.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        bootstrap.dispose()


def _events(n: int) -> list[IncomingEvent]:
    return [IncomingEvent(e.seq, e.kind, dict(e.payload), e.at, e.prev_hash, e.hash) for e in chain(n)]


def test_two_processes_share_codes_keys_nonces_and_journal(registries: tuple[TerminalRegistry, ...]) -> None:
    one, two = registries
    code = one.new_activation_code(ttl=timedelta(minutes=5))
    key = two.activate(code=code, store_id="S00001", terminal_id="T001", name="Till 1")
    assert one.terminal_key("T001") == ("S00001", key)
    with pytest.raises(ActivationError):
        one.activate(code=code, store_id="S00001", terminal_id="T001", name="again")

    keep = datetime.now(UTC) + timedelta(minutes=5)
    assert one.remember_nonce("T001", "nonce-0001", keep_until=keep)
    assert not two.remember_nonce("T001", "nonce-0001", keep_until=keep)  # replay seen by the other process

    events = _events(5)
    assert one.store_journal_events("T001", events[:3]) == 3
    assert two.store_journal_events("T001", events) == 5
    with pytest.raises(SyncConflict):
        two.store_journal_events("T001", _events(7)[6:])
    assert one.acked_seq("T001") == 5
