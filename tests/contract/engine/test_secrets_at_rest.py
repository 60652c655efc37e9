"""Issue 16 finding 3: the profile, the ledger and the journal are owner-only whatever the umask, and the
terminal keys in the ledger are sealed under the ledger key file (older clear keys sealed at start)."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from pos_app.domain.errors import ConfigError
from pos_app.engine.crypto.sealing import create_ledger_key
from pos_app.engine.store.db import make_engine, migrate, open_ledger
from pos_app.engine.store.terminals import Terminal, TerminalRegistry, count_clear_keys

# Run with the umask most systems have, in a process of its own (the umask is per process).
_MAKE_EVERYTHING = """
import json, os, sys
from pathlib import Path
os.umask(0o022)
from pos_app.config import load_settings
from pos_app.engine.startup import prepare_ledger
from pos_app.engine.store.db import open_ledger
from pos_app.journal.db import open_journal
from pos_app.sandbox.demo import init_demo_profile

home = Path(sys.argv[1])
profile = init_demo_profile(home)
settings = load_settings(profile.config)
ledger = open_ledger(settings.database_url)
prepare_ledger(ledger, settings)  # the engine's first start: managers seeded, a write in WAL mode
journal_path = home / "till" / "journal.sqlite3"
journal = open_journal(journal_path)
with ledger.connect() as a, journal.connect() as b:  # both open: -wal and -shm exist now
    paths = [home, home / "keys", home / "keys" / "ledger.key", journal_path.parent, home / "pos.toml"]
    for db in (Path(settings.database_url.removeprefix("sqlite:///")), journal_path):
        paths += [db, *(Path(str(db) + s) for s in ("-wal", "-shm")) ]
    print(json.dumps({str(p): oct(os.stat(p).st_mode & 0o777) for p in paths}))
"""


def test_profile_ledger_and_journal_are_owner_only_under_umask_022(tmp_path: Path) -> None:
    home = tmp_path / "profile"
    done = subprocess.run(
        [sys.executable, "-c", _MAKE_EVERYTHING, str(home)], capture_output=True, text=True, check=True, timeout=120
    )
    modes = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(modes) == 11
    for path, mode in modes.items():
        wanted = "0o700" if Path(path).is_dir() else "0o600"
        assert mode == wanted, f"{path} is {mode}"


def test_an_existing_world_readable_ledger_is_made_owner_only_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "engine.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
    path.chmod(0o644)
    open_ledger(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _ledger_with_a_clear_key(tmp_path: Path) -> tuple[str, bytes]:
    """A ledger as the version before sealing left it: a terminal's key in clear in ``key_b64``."""
    url = f"sqlite:///{tmp_path / 'engine.sqlite3'}"
    old = make_engine(url)
    migrate(old, "0002")
    old.dispose()
    key = secrets.token_bytes(32)
    with sqlite3.connect(tmp_path / "engine.sqlite3") as db:
        db.execute(
            "INSERT INTO terminals (terminal_id, store_id, name, key_b64, activated_at, disabled)"
            " VALUES (?, ?, ?, ?, ?, 0)",
            ("T001", "S00001", "Till 1", base64.urlsafe_b64encode(key).decode(), "2026-11-20 09:00:00.000000"),
        )
    return url, key


def test_clear_keys_of_an_older_ledger_are_sealed_when_the_engine_starts(tmp_path: Path) -> None:
    url, key = _ledger_with_a_clear_key(tmp_path)
    key_file = tmp_path / "keys" / "ledger.key"
    registry = TerminalRegistry.open(url, key_file)
    try:
        assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        with Session(registry.engine) as session:
            assert count_clear_keys(session=session) == 0
            row = session.get(Terminal, "T001")
            assert row is not None and row.key_b64 is None and row.sealed_key
            assert base64.urlsafe_b64encode(key).decode() not in row.sealed_key
        assert registry.terminal_key("T001") == ("S00001", key)
    finally:
        registry.close()


def test_without_its_key_file_a_ledger_with_sealed_keys_refuses_to_start(tmp_path: Path) -> None:
    url, _key = _ledger_with_a_clear_key(tmp_path)
    key_file = tmp_path / "keys" / "ledger.key"
    TerminalRegistry.open(url, key_file).close()
    key_file.unlink()
    with pytest.raises(ConfigError, match="ledger key file .* is missing"):
        TerminalRegistry.open(url, key_file)
    assert not key_file.exists()  # never silently replaced: that would lock every till out for good


def test_another_key_file_opens_no_terminal_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url, _key = _ledger_with_a_clear_key(tmp_path)
    key_file = tmp_path / "keys" / "ledger.key"
    TerminalRegistry.open(url, key_file).close()
    key_file.unlink()
    create_ledger_key(key_file)
    with caplog.at_level(logging.ERROR):
        registry = TerminalRegistry.open(url, key_file)
    try:
        assert "not this ledger's key file" in caplog.text
        assert registry.terminal_key("T001") is None  # refused like an unknown terminal: re-activate
    finally:
        registry.close()
