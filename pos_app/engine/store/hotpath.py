"""The notification hot path's statements as plain SQL on the DBAPI cursor of the caller's transaction.

A gateway notification is five statements (insert inbox row, read + compare-and-set the payment, add a
status event, mark the inbox row applied). Through the ORM, or even SQLAlchemy Core, building and
executing them cost more CPU than verifying the notification; here each is one prepared SQL string
per dialect, with the columns' own SQLAlchemy type processors applied to the parameters and results
(so values are stored exactly as the ORM stores them: naive UTC datetimes, JSON text, booleans).

Semantics are the ORM paths' (``repo.cas_update_payment``, ``repo.append_event``, ``notify.record``):
the payment row is read ``FOR UPDATE`` on PostgreSQL (SQLite transactions start with
``BEGIN IMMEDIATE``), updated only if its ``version`` is unchanged, and status event ids are handed
out under the same advisory lock as ``repo.append_event``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Column, Connection, Dialect, Table

from pos_app.engine.store.models import InboxNotification, Payment, StatusEvent

PAYMENTS: Table = Payment.__table__  # type: ignore[attr-defined]
INBOX: Table = InboxNotification.__table__  # type: ignore[attr-defined]
STATUS_EVENTS: Table = StatusEvent.__table__  # type: ignore[attr-defined]
#: Same key as ``repo._EVENT_LOCK_KEY`` (status event ids commit in order on PostgreSQL).
EVENT_LOCK_KEY = 0x504F5302

Processor = Callable[[Any], Any]


class HotPath:
    """Prepared statements and type processors for one dialect (see :func:`hot_path`)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.postgres = dialect.name != "sqlite"
        self._bind: dict[tuple[str, str], Processor | None] = {}
        for table in (PAYMENTS, INBOX, STATUS_EVENTS):
            for column in table.columns:
                self._bind[(table.name, column.name)] = _bind_processor(column, dialect)
        self._payment_columns = [c.name for c in PAYMENTS.columns]
        self._payment_result = [_result_processor(c, dialect) for c in PAYMENTS.columns]
        select = f"SELECT {', '.join(self._payment_columns)} FROM payments WHERE out_trade_no = :otn"
        self.select_payment = self._sql(select)
        self.select_payment_locked = self._sql(select + (" FOR UPDATE" if self.postgres else ""))
        inbox_columns = ("channel", "event_id", "event_type", "kind", "out_trade_no", "body", "parsed", "received_at")
        self.inbox_columns = inbox_columns
        self.insert_inbox_sql = self._sql(
            f"INSERT INTO notification_inbox ({', '.join(inbox_columns)}) "
            f"VALUES ({', '.join(':' + c for c in inbox_columns)}) "
            "ON CONFLICT (channel, event_id) DO NOTHING RETURNING id"
        )
        self.find_inbox_sql = self._sql(
            "SELECT id, applied_at FROM notification_inbox WHERE channel = :channel AND event_id = :event_id"
        )
        self.mark_inbox_sql = self._sql(
            "UPDATE notification_inbox SET applied_at = :applied_at, outcome = :outcome "
            "WHERE id = :id AND applied_at IS NULL"
        )
        self.insert_event_sql = self._sql(
            "INSERT INTO status_events (terminal_id, type, out_trade_no, payload, created_at) "
            "VALUES (:terminal_id, :type, :out_trade_no, :payload, :created_at) RETURNING id"
        )
        self.event_lock_sql = self._sql("SELECT pg_advisory_xact_lock(:key)")

    def _sql(self, text: str) -> str:
        """``:name`` placeholders as the driver wants them (sqlite3: named; psycopg: pyformat)."""
        return re.sub(r":(\w+)", r"%(\1)s", text) if self.postgres else text

    def _params(self, table: str, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            process = self._bind.get((table, name))
            out[name] = process(value) if process is not None and value is not None else value
        return out

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one HotPath per dialect, kept for the process
    def _cas_sql(self, columns: tuple[str, ...]) -> str:
        sets = ", ".join(f"{c} = :v_{c}" for c in (*columns, "version", "updated_at"))
        return self._sql(f"UPDATE payments SET {sets} WHERE id = :w_id AND version = :w_version")

    # -- statements (``cursor`` is the DBAPI cursor of the caller's open transaction) --------------

    def payment(self, cursor: Any, out_trade_no: str, *, lock: bool) -> SimpleNamespace | None:
        """The payment row (attributes named like :class:`Payment`'s, values typed as the ORM's)."""
        cursor.execute(self.select_payment_locked if lock else self.select_payment, {"otn": out_trade_no})
        raw = cursor.fetchone()
        if raw is None:
            return None
        values = {
            name: (process(value) if process is not None else value)
            for name, process, value in zip(self._payment_columns, self._payment_result, raw, strict=True)
        }
        return SimpleNamespace(**values)

    def cas_update_payment(
        self, cursor: Any, row_id: int, version: int, changes: Mapping[str, Any], now: datetime
    ) -> bool:
        columns = tuple(sorted(changes))
        params = {f"v_{c}": v for c, v in self._params("payments", changes).items()}
        params.update(
            self._prefixed("v_", self._params("payments", {"version": version + 1, "updated_at": now})),
            w_id=row_id,
            w_version=version,
        )
        cursor.execute(self._cas_sql(columns), params)
        return int(cursor.rowcount) == 1

    @staticmethod
    def _prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
        return {prefix + k: v for k, v in values.items()}

    def insert_inbox(self, cursor: Any, values: Mapping[str, Any]) -> int | None:
        """The new row's id; None if (channel, event_id) exists (PostgreSQL: waits for a concurrent insert)."""
        cursor.execute(self.insert_inbox_sql, self._params("notification_inbox", values))
        row = cursor.fetchone()
        return None if row is None else int(row[0])

    def find_inbox(self, cursor: Any, channel: str, event_id: str) -> tuple[int, bool] | None:
        cursor.execute(self.find_inbox_sql, {"channel": channel, "event_id": event_id})
        row = cursor.fetchone()
        return None if row is None else (int(row[0]), row[1] is not None)

    def mark_inbox_applied(self, cursor: Any, inbox_id: int, outcome: str, now: datetime) -> None:
        params = self._params("notification_inbox", {"applied_at": now, "outcome": outcome[:64]})
        cursor.execute(self.mark_inbox_sql, {**params, "id": inbox_id})

    def insert_event(self, cursor: Any, values: Mapping[str, Any]) -> int:
        if self.postgres:
            cursor.execute(self.event_lock_sql, {"key": EVENT_LOCK_KEY})
            cursor.fetchall()
        cursor.execute(self.insert_event_sql, self._params("status_events", values))
        row = cursor.fetchone()
        assert row is not None
        return int(row[0])


def _bind_processor(column: Column[Any], dialect: Dialect) -> Processor | None:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(column: Column[Any], dialect: Dialect) -> Processor | None:
    return column.type.dialect_impl(dialect).result_processor(dialect, None)


_PATHS: dict[str, HotPath] = {}


def hot_path(conn: Connection) -> HotPath:
    """The :class:`HotPath` of the connection's dialect (built once per process and dialect)."""
    key = f"{conn.dialect.name}/{conn.dialect.driver}"
    path = _PATHS.get(key)
    if path is None:
        path = _PATHS[key] = HotPath(conn.dialect)
    return path


def dbapi_cursor(conn: Connection) -> Any:
    """A DBAPI cursor on the connection's transaction (close it when done)."""
    return conn.connection.cursor()
