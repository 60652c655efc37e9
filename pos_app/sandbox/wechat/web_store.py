"""The WeChat web-payment tables (spec wechatpay-jsapi.md §6): OAuth codes, issued openids, JSAPI prepays.

Kept apart from :mod:`.store` so the order table stays as it was: a JSAPI order is an ordinary row of
``wechat_orders`` (trade_type JSAPI, payer openid in ``pending_openid``); its prepay ids live here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

WECHAT_WEB_DDL = """
CREATE TABLE IF NOT EXISTS wechat_oauth_codes (
    code TEXT PRIMARY KEY,
    appid TEXT NOT NULL,
    user TEXT NOT NULL,
    scope TEXT NOT NULL,
    forced_error INTEGER,
    created_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS wechat_openids (
    openid TEXT PRIMARY KEY,
    appid TEXT NOT NULL,
    user TEXT NOT NULL,
    UNIQUE (appid, user)
);
CREATE TABLE IF NOT EXISTS wechat_jsapi_prepays (
    prepay_id TEXT PRIMARY KEY,
    out_trade_no TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS wechat_jsapi_prepays_order ON wechat_jsapi_prepays (out_trade_no);
"""


@dataclass(frozen=True, slots=True)
class OauthCode:
    code: str
    appid: str
    user: str
    scope: str
    forced_error: int | None
    created_at: float
    used_at: float | None


def insert_code(conn: sqlite3.Connection, code: OauthCode) -> None:
    conn.execute(
        "INSERT INTO wechat_oauth_codes (code, appid, user, scope, forced_error, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (code.code, code.appid, code.user, code.scope, code.forced_error, code.created_at),
    )


def load_code(conn: sqlite3.Connection, code: str) -> OauthCode | None:
    row = conn.execute("SELECT * FROM wechat_oauth_codes WHERE code = ?", (code,)).fetchone()
    if row is None:
        return None
    return OauthCode(
        code=row["code"],
        appid=row["appid"],
        user=row["user"],
        scope=row["scope"],
        forced_error=row["forced_error"],
        created_at=row["created_at"],
        used_at=row["used_at"],
    )


def use_code(conn: sqlite3.Connection, code: str, when: float) -> None:
    conn.execute("UPDATE wechat_oauth_codes SET used_at = ? WHERE code = ?", (when, code))


def record_openid(conn: sqlite3.Connection, *, openid: str, appid: str, user: str) -> None:
    conn.execute("INSERT OR IGNORE INTO wechat_openids (openid, appid, user) VALUES (?, ?, ?)", (openid, appid, user))


def openid_owner(conn: sqlite3.Connection, openid: str) -> tuple[str, str] | None:
    """(appid, user) the openid was issued for, or None when this sandbox never issued it."""
    row = conn.execute("SELECT appid, user FROM wechat_openids WHERE openid = ?", (openid,)).fetchone()
    return None if row is None else (row["appid"], row["user"])


def insert_prepay(conn: sqlite3.Connection, *, prepay_id: str, out_trade_no: str, created_at: float) -> None:
    conn.execute(
        "INSERT INTO wechat_jsapi_prepays (prepay_id, out_trade_no, created_at) VALUES (?, ?, ?)",
        (prepay_id, out_trade_no, created_at),
    )


def latest_prepay(conn: sqlite3.Connection, out_trade_no: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM wechat_jsapi_prepays WHERE out_trade_no = ? ORDER BY created_at DESC LIMIT 1", (out_trade_no,)
    ).fetchone()
    return row


def load_prepay(conn: sqlite3.Connection, prepay_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM wechat_jsapi_prepays WHERE prepay_id = ?", (prepay_id,)
    ).fetchone()
    return row
