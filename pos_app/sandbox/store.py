"""The sandbox's own SQLite state, so a restarted sandbox still knows its orders and keeps delivering.

One connection shared by every thread of the ASGI server, guarded by a re-entrant lock; each
gateway keeps its own tables and creates them with :meth:`SandboxStore.ensure_schema`::

    store.ensure_schema(ALIPAY_DDL)           # CREATE TABLE IF NOT EXISTS ...
    with store.transaction() as conn:          # one atomic unit; nested calls join it
        row = conn.execute("SELECT ...", (...)).fetchone()
        conn.execute("UPDATE ...", (...))
    rows = store.query("SELECT ...", (...))   # read-only shortcut

Rows are ``sqlite3.Row`` (index by column name). Money columns are INTEGER fen.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Params = Sequence[Any] | dict[str, Any]

CORE_DDL = """
CREATE TABLE IF NOT EXISTS auth_codes (
    code TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    password_seconds REAL NOT NULL DEFAULT 0,
    balance_fen INTEGER,
    user_cancels INTEGER NOT NULL DEFAULT 0,
    buyer_id TEXT NOT NULL,
    used_at REAL,
    used_by TEXT
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway TEXT NOT NULL,
    url TEXT NOT NULL,
    event TEXT NOT NULL DEFAULT '',
    out_trade_no TEXT NOT NULL DEFAULT '',
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    headers TEXT NOT NULL DEFAULT '{}',
    probe INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,
    held INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_at);
CREATE TABLE IF NOT EXISTS notification_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id INTEGER NOT NULL,
    at REAL NOT NULL,
    status INTEGER,
    error TEXT,
    acknowledged INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS hq_uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL,
    content_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class SandboxStore:
    """Thread-safe access to the sandbox SQLite file (``":memory:"`` works for throwaway use)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so a transaction is exactly one `with`.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self.ensure_schema(CORE_DDL)

    def ensure_schema(self, ddl: str) -> None:
        """Run idempotent DDL (``CREATE TABLE IF NOT EXISTS``...) — how each gateway adds its tables."""
        with self._lock:
            self._conn.executescript(ddl)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the store lock and one SQLite write transaction; commit on success, roll back on error.

        Re-entrant: an inner ``transaction()`` in the same thread joins the outer one.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own transaction; returns ``lastrowid``."""
        with self.transaction() as conn:
            return int(conn.execute(sql, params).lastrowid or 0)

    def get_json(self, key: str, default: Any = None) -> Any:
        row = self.query_one("SELECT value FROM kv WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def set_json(self, key: str, value: Any) -> None:
        self.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
