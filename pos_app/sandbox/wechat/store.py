"""The WeChat simulator's tables in the sandbox SQLite file: load and save orders, refunds and bills.

Times are stored as Unix seconds (REAL), money as INTEGER fen. Functions take the connection of
the caller's ``SandboxStore.transaction()`` so a rule's order, refund and notifications commit together.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

WECHAT_DDL = """
CREATE TABLE IF NOT EXISTS wechat_orders (
    out_trade_no TEXT PRIMARY KEY,
    mchid TEXT NOT NULL,
    appid TEXT NOT NULL,
    trade_type TEXT NOT NULL,
    trade_state TEXT NOT NULL,
    trade_state_desc TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL,
    attach TEXT,
    notify_url TEXT,
    total INTEGER NOT NULL,
    currency TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    code_token TEXT UNIQUE,
    transaction_id TEXT UNIQUE,
    openid TEXT,
    bank_type TEXT,
    device_id TEXT,
    created_at REAL NOT NULL,
    time_expire REAL,
    success_time REAL,
    pay_at REAL,
    ready_at REAL,
    ready_state TEXT,
    ready_desc TEXT,
    pending_openid TEXT,
    error_code TEXT,
    error_status INTEGER,
    error_message TEXT,
    closed_at REAL,
    reversed_at REAL,
    reversal_id TEXT
);
CREATE TABLE IF NOT EXISTS wechat_refunds (
    out_refund_no TEXT PRIMARY KEY,
    refund_id TEXT NOT NULL UNIQUE,
    out_trade_no TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    refund INTEGER NOT NULL,
    total INTEGER NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT,
    notify_url TEXT,
    funds_account TEXT,
    status TEXT NOT NULL,
    create_time REAL NOT NULL,
    success_time REAL,
    settle_at REAL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS wechat_refunds_order ON wechat_refunds (out_trade_no);
CREATE TABLE IF NOT EXISTS wechat_bills (
    token TEXT PRIMARY KEY,
    bill_date TEXT NOT NULL,
    bill_type TEXT NOT NULL,
    gzip INTEGER NOT NULL,
    content BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class NewOrder:
    """The columns of an order as it is first recorded (native/JSAPI prepay or codepay)."""

    out_trade_no: str
    mchid: str
    appid: str
    trade_type: str
    trade_state: str
    description: str
    attach: str | None
    total: int
    currency: str
    fingerprint: str
    device_id: str | None
    created_at: float
    notify_url: str | None = None
    code_token: str | None = None
    time_expire: float | None = None
    pending_openid: str | None = None


@dataclass(frozen=True, slots=True)
class NewRefund:
    """The columns of a refund as it is accepted (PROCESSING until ``settle_at``)."""

    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund: int
    total: int
    currency: str
    reason: str | None
    notify_url: str | None
    funds_account: str | None
    create_time: float
    settle_at: float
    fingerprint: str


@dataclass(frozen=True, slots=True)
class RefundTotals:
    """An order's live refunds (neither CLOSED nor ABNORMAL): how many, how much, the latest request."""

    count: int
    refunded_fen: int
    last_create_time: float | None


# ---- orders ---------------------------------------------------------------------------------------


def load_order(conn: sqlite3.Connection, out_trade_no: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM wechat_orders WHERE out_trade_no = ?", (out_trade_no,)
    ).fetchone()
    return row


def load_order_by_transaction_id(conn: sqlite3.Connection, transaction_id: str | None) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM wechat_orders WHERE transaction_id = ?", (transaction_id,)
    ).fetchone()
    return row


def load_native_order_by_code(conn: sqlite3.Connection, code_token: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM wechat_orders WHERE code_token = ? AND trade_type = 'NATIVE'", (code_token,)
    ).fetchone()
    return row


def insert_order(conn: sqlite3.Connection, order: NewOrder) -> None:
    conn.execute(
        "INSERT INTO wechat_orders (out_trade_no, mchid, appid, trade_type, trade_state, description, attach,"
        " notify_url, total, currency, fingerprint, code_token, device_id, created_at, time_expire, pending_openid)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            order.out_trade_no,
            order.mchid,
            order.appid,
            order.trade_type,
            order.trade_state,
            order.description,
            order.attach,
            order.notify_url,
            order.total,
            order.currency,
            order.fingerprint,
            order.code_token,
            order.device_id,
            order.created_at,
            order.time_expire,
            order.pending_openid,
        ),
    )


def set_paid(
    conn: sqlite3.Connection, out_trade_no: str, *, transaction_id: str, openid: str, bank_type: str, when: float
) -> None:
    conn.execute(
        "UPDATE wechat_orders SET trade_state = 'SUCCESS', trade_state_desc = '', transaction_id = ?,"
        " openid = ?, bank_type = ?, success_time = ?, pay_at = NULL, ready_at = NULL WHERE out_trade_no = ?",
        (transaction_id, openid, bank_type, when, out_trade_no),
    )


def set_payerror(
    conn: sqlite3.Connection,
    out_trade_no: str,
    desc: str,
    *,
    error_code: str | None = None,
    error_status: int | None = None,
    error_message: str | None = None,
) -> None:
    """PAYERROR with its description; the error fields are what the codepay call itself answered."""
    conn.execute(
        "UPDATE wechat_orders SET trade_state = 'PAYERROR', trade_state_desc = ?, ready_at = NULL,"
        " error_code = ?, error_status = ?, error_message = ? WHERE out_trade_no = ?",
        (desc, error_code, error_status, error_message, out_trade_no),
    )


def set_password_wait(
    conn: sqlite3.Connection, out_trade_no: str, *, ready_at: float, ready_state: str, ready_desc: str
) -> None:
    """The customer's answer at the password prompt, due at ``ready_at``."""
    conn.execute(
        "UPDATE wechat_orders SET ready_at = ?, ready_state = ?, ready_desc = ? WHERE out_trade_no = ?",
        (ready_at, ready_state, ready_desc, out_trade_no),
    )


def schedule_native_payment(conn: sqlite3.Connection, out_trade_no: str, *, pay_at: float, openid: str) -> None:
    conn.execute(
        "UPDATE wechat_orders SET pay_at = ?, pending_openid = ? WHERE out_trade_no = ?",
        (pay_at, openid, out_trade_no),
    )


def close_unpaid(conn: sqlite3.Connection, out_trade_no: str, when: float) -> None:
    conn.execute(
        "UPDATE wechat_orders SET trade_state = 'CLOSED', closed_at = ?, pay_at = NULL"
        " WHERE out_trade_no = ? AND trade_state = 'NOTPAY'",
        (when, out_trade_no),
    )


def set_revoked(conn: sqlite3.Connection, out_trade_no: str, *, when: float, reversal_id: str | None) -> None:
    conn.execute(
        "UPDATE wechat_orders SET trade_state = 'REVOKED', trade_state_desc = '', reversed_at = ?,"
        " reversal_id = ?, ready_at = NULL WHERE out_trade_no = ?",
        (when, reversal_id, out_trade_no),
    )


def set_refunded(conn: sqlite3.Connection, out_trade_no: str) -> None:
    conn.execute("UPDATE wechat_orders SET trade_state = 'REFUND' WHERE out_trade_no = ?", (out_trade_no,))


def due_orders(conn: sqlite3.Connection, now: float) -> list[sqlite3.Row]:
    """Orders with a scheduled native payment or a password wait that has come due."""
    return conn.execute(
        "SELECT * FROM wechat_orders WHERE (trade_state = 'NOTPAY' AND pay_at <= ?)"
        " OR (trade_state = 'USERPAYING' AND ready_at <= ?)",
        (now, now),
    ).fetchall()


def open_native_orders(conn: sqlite3.Connection, *, now: float, created_after: float) -> list[sqlite3.Row]:
    """The 20 newest unpaid, unexpired native orders with no payment on its way."""
    return conn.execute(
        "SELECT * FROM wechat_orders WHERE trade_type = 'NATIVE' AND trade_state = 'NOTPAY' AND pay_at IS NULL"
        " AND time_expire > ? AND created_at > ? ORDER BY created_at DESC LIMIT 20",
        (now, created_after),
    ).fetchall()


def paid_orders(conn: sqlite3.Connection, mchid: str) -> list[sqlite3.Row]:
    """Every order of the merchant that was ever paid (it has a transaction id)."""
    return conn.execute(
        "SELECT * FROM wechat_orders WHERE mchid = ? AND transaction_id IS NOT NULL", (mchid,)
    ).fetchall()


# ---- refunds --------------------------------------------------------------------------------------


def load_refund(conn: sqlite3.Connection, out_refund_no: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM wechat_refunds WHERE out_refund_no = ?", (out_refund_no,)
    ).fetchone()
    return row


def refund_totals(conn: sqlite3.Connection, out_trade_no: str) -> RefundTotals:
    row = conn.execute(
        "SELECT COUNT(*) AS n, COALESCE(SUM(refund), 0) AS s, MAX(create_time) AS last FROM wechat_refunds"
        " WHERE out_trade_no = ? AND status NOT IN ('CLOSED', 'ABNORMAL')",
        (out_trade_no,),
    ).fetchone()
    return RefundTotals(count=row["n"], refunded_fen=row["s"], last_create_time=row["last"])


def insert_refund(conn: sqlite3.Connection, refund: NewRefund) -> None:
    conn.execute(
        "INSERT INTO wechat_refunds (out_refund_no, refund_id, out_trade_no, transaction_id, refund, total,"
        " currency, reason, notify_url, funds_account, status, create_time, settle_at, fingerprint)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PROCESSING', ?, ?, ?)",
        (
            refund.out_refund_no,
            refund.refund_id,
            refund.out_trade_no,
            refund.transaction_id,
            refund.refund,
            refund.total,
            refund.currency,
            refund.reason,
            refund.notify_url,
            refund.funds_account,
            refund.create_time,
            refund.settle_at,
            refund.fingerprint,
        ),
    )


def set_refund_succeeded(conn: sqlite3.Connection, out_refund_no: str) -> None:
    """SUCCESS, at the time the refund was due to settle."""
    conn.execute(
        "UPDATE wechat_refunds SET status = 'SUCCESS', success_time = settle_at WHERE out_refund_no = ?",
        (out_refund_no,),
    )


def due_refunds(conn: sqlite3.Connection, now: float) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM wechat_refunds WHERE status = 'PROCESSING' AND settle_at <= ?", (now,)
    ).fetchall()


def refunds_requested_between(conn: sqlite3.Connection, start: float, end: float) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM wechat_refunds WHERE create_time >= ? AND create_time < ?", (start, end)
    ).fetchall()


# ---- bills ----------------------------------------------------------------------------------------


def save_bill(
    conn: sqlite3.Connection,
    *,
    token: str,
    bill_date: str,
    bill_type: str,
    gzip: bool,
    content: bytes,
    created_at: float,
) -> None:
    conn.execute(
        "INSERT INTO wechat_bills (token, bill_date, bill_type, gzip, content, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (token, bill_date, bill_type, int(gzip), content, created_at),
    )


def load_bill(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM wechat_bills WHERE token = ?", (token,)).fetchone()
    return row
