"""A consistent copy of a SQLite database before its schema is upgraded.

Used by the terminal journal and the engine ledger (SQLite): an upgrade that goes wrong must never
cost a journal. sqlite3's online backup API copies a consistent snapshot even in WAL mode, so the
copy is taken with the database open, without stopping anything.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path


def backup_sqlite(path: Path, *, label: str) -> Path:
    """Copy ``path`` beside itself as ``NAME.bak-LABEL-YYYYMMDDTHHMMSSZ`` and return the copy's path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.bak-{label}-{stamp}")
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            # One self-contained file: a WAL-mode copy would grow -wal/-shm companions when opened.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()
    target.chmod(path.stat().st_mode & 0o777)
    return target
