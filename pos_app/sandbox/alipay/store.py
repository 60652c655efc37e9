"""The Alipay simulator's tables in the sandbox SQLite file (a restarted sandbox keeps its trades).

Times are stored as Unix seconds (REAL), money as INTEGER fen. Functions take the connection of
the caller's ``SandboxStore.transaction()`` so a rule's trade, refund and notifications commit together.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pos_app.domain.china_time import CHINA_TZ
from pos_app.sandbox.alipay.model import Kind, Pending, Refund, Status, Trade

ALIPAY_DDL = """
CREATE TABLE IF NOT EXISTS alipay_trades (
    out_trade_no TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    total_fen INTEGER NOT NULL,
    subject TEXT NOT NULL,
    ordered_at REAL NOT NULL,
    expires_at REAL,
    app_id TEXT NOT NULL DEFAULT '',
    trade_no TEXT UNIQUE,
    created_at REAL,
    body TEXT NOT NULL DEFAULT '',
    store_id TEXT NOT NULL DEFAULT '',
    store_name TEXT NOT NULL DEFAULT '',
    terminal_id TEXT NOT NULL DEFAULT '',
    operator_id TEXT NOT NULL DEFAULT '',
    notify_url TEXT NOT NULL DEFAULT '',
    qr_code TEXT NOT NULL DEFAULT '',
    buyer_user_id TEXT NOT NULL DEFAULT '',
    buyer_logon_id TEXT NOT NULL DEFAULT '',
    paid_at REAL,
    closed_at REAL,
    refunded_fen INTEGER NOT NULL DEFAULT 0,
    cancel_action TEXT NOT NULL DEFAULT '',
    pending TEXT,
    pending_until REAL,
    auth_code_tail TEXT NOT NULL DEFAULT '',
    buyer_open_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS alipay_trades_qr ON alipay_trades (qr_code);
CREATE INDEX IF NOT EXISTS alipay_trades_open ON alipay_trades (status);
CREATE TABLE IF NOT EXISTS alipay_refunds (
    out_trade_no TEXT NOT NULL,
    out_request_no TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    refunded_at REAL NOT NULL,
    refund_fee_after INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    by_cancel INTEGER NOT NULL DEFAULT 0,
    store_id TEXT NOT NULL DEFAULT '',
    operator_id TEXT NOT NULL DEFAULT '',
    terminal_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (out_trade_no, out_request_no, by_cancel)
);
CREATE TABLE IF NOT EXISTS alipay_bill_tokens (
    token TEXT PRIMARY KEY,
    bill_type TEXT NOT NULL,
    bill_date TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

#: Columns added after a table was first released: (table, column, definition), added when missing.
ADDED_COLUMNS = (("alipay_trades", "buyer_open_id", "TEXT NOT NULL DEFAULT ''"),)


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a sandbox state file made by an older version up to the current columns."""
    for table, column, definition in ADDED_COLUMNS:
        present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


_ENUMS: dict[str, type[StrEnum]] = {"kind": Kind, "status": Status, "pending": Pending}
T = TypeVar("T", Trade, Refund)


def _to_db(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def _from_db(cls: type[T], row: sqlite3.Row) -> T:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        raw = row[f.name]
        if raw is not None and f.name in _ENUMS:
            raw = _ENUMS[f.name](raw)
        elif raw is not None and "datetime" in str(f.type):
            raw = datetime.fromtimestamp(raw, CHINA_TZ)
        elif f.type == "bool":
            raw = bool(raw)
        values[f.name] = raw
    return cls(**values)


def _upsert(conn: sqlite3.Connection, table: str, obj: Trade | Refund) -> None:
    names = [f.name for f in dataclasses.fields(obj)]
    values = [_to_db(getattr(obj, n)) for n in names]
    conn.execute(
        f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})", values
    )


def save_trade(conn: sqlite3.Connection, trade: Trade) -> None:
    _upsert(conn, "alipay_trades", trade)


def insert_refund(conn: sqlite3.Connection, refund: Refund) -> None:
    _upsert(conn, "alipay_refunds", refund)


def load_trade(conn: sqlite3.Connection, *, out_trade_no: str = "", trade_no: str = "") -> Trade | None:
    """By trade_no when given (it wins over out_trade_no, spec §3), else by out_trade_no."""
    if trade_no:
        row = conn.execute("SELECT * FROM alipay_trades WHERE trade_no = ?", (trade_no,)).fetchone()
    elif out_trade_no:
        row = conn.execute("SELECT * FROM alipay_trades WHERE out_trade_no = ?", (out_trade_no,)).fetchone()
    else:
        return None
    return None if row is None else _from_db(Trade, row)


def load_trade_by_qr(conn: sqlite3.Connection, qr_code: str) -> Trade | None:
    row = conn.execute("SELECT * FROM alipay_trades WHERE qr_code = ?", (qr_code,)).fetchone()
    return None if row is None else _from_db(Trade, row)


def load_refunds(conn: sqlite3.Connection, out_trade_no: str) -> list[Refund]:
    rows = conn.execute(
        "SELECT * FROM alipay_refunds WHERE out_trade_no = ? ORDER BY refunded_at", (out_trade_no,)
    ).fetchall()
    return [_from_db(Refund, r) for r in rows]


def open_trades(conn: sqlite3.Connection) -> list[Trade]:
    """Trades that time can still change (waiting for a scan, a password or a payment)."""
    rows = conn.execute(
        "SELECT * FROM alipay_trades WHERE status IN (?, ?)", (Status.PRECREATED.value, Status.WAIT_BUYER_PAY.value)
    ).fetchall()
    return [_from_db(Trade, r) for r in rows]


def trades_paid_between(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[Trade]:
    rows = conn.execute(
        "SELECT * FROM alipay_trades WHERE paid_at >= ? AND paid_at < ? ORDER BY paid_at, out_trade_no",
        (start.timestamp(), end.timestamp()),
    ).fetchall()
    return [_from_db(Trade, r) for r in rows]


def refunds_between(conn: sqlite3.Connection, start: datetime, end: datetime) -> list[tuple[Refund, Trade]]:
    rows = conn.execute(
        "SELECT * FROM alipay_refunds WHERE refunded_at >= ? AND refunded_at < ? ORDER BY refunded_at, out_request_no",
        (start.timestamp(), end.timestamp()),
    ).fetchall()
    out: list[tuple[Refund, Trade]] = []
    for row in rows:
        refund = _from_db(Refund, row)
        trade = load_trade(conn, out_trade_no=refund.out_trade_no)
        if trade is not None:
            out.append((refund, trade))
    return out


def save_bill_token(conn: sqlite3.Connection, token: str, bill_type: str, bill_date: str, expires_at: float) -> None:
    conn.execute(
        "INSERT INTO alipay_bill_tokens (token, bill_type, bill_date, expires_at) VALUES (?, ?, ?, ?)",
        (token, bill_type, bill_date, expires_at),
    )


def load_bill_token(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM alipay_bill_tokens WHERE token = ?", (token,)).fetchone()
    return row
