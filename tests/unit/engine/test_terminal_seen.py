"""The engine's in-memory "last seen" notes: written at most once per interval per terminal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pos_app.engine.store import open_ledger
from pos_app.engine.store.seen import SeenTerminals, version_of
from pos_app.engine.store.terminals import TerminalRegistry


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_version_is_read_from_the_tills_user_agent_only() -> None:
    assert version_of("pos_app-terminal/0.1.0") == "0.1.0"
    assert version_of("pos_app-terminal/1") == "1"
    assert version_of("curl/8.0") is None
    assert version_of("pos_app-terminal/0.1.0 <script>") is None
    assert version_of(None) is None


def test_notes_are_due_once_per_interval_and_flush_writes_the_newest(tmp_path: Path) -> None:
    clock = Clock()
    registry = TerminalRegistry.start(open_ledger(f"sqlite:///{tmp_path / 'e.sqlite3'}"), tmp_path / "k", clock=clock)
    code = registry.new_activation_code(ttl=timedelta(minutes=5))
    registry.activate(code=code, store_id="S00001", terminal_id="T001", name="Till 1")
    seen = SeenTerminals(registry.engine, clock, every_s=30)
    assert seen.note("T001", "0.1.0")  # never written: due
    assert seen.flush("T001") == 1
    clock.now += timedelta(seconds=10)
    assert not seen.note("T001", None)  # within 30 s: memory only; the version is kept
    row = registry.terminal("T001")
    assert row is not None and row.last_seen_at == datetime(2026, 12, 6, 4, 0, tzinfo=UTC) and row.version == "0.1.0"
    clock.now += timedelta(seconds=25)
    assert seen.note("T001", "0.2.0")
    assert seen.flush() == 1
    row = registry.terminal("T001")
    assert (
        row is not None and row.last_seen_at == datetime(2026, 12, 6, 4, 0, 35, tzinfo=UTC) and row.version == "0.2.0"
    )
    assert seen.note("T404", "0.1.0") and seen.flush() == 1  # an unknown terminal's row: nothing to update
    registry.close()
