"""The notification hot path's statements as plain SQL on the DBAPI cursor of the caller's transaction.

A gateway notification is five statements (insert inbox row, read + compare-and-set the payment, add a
status event, mark the inbox row applied). Through the ORM, or even SQLAlchemy Core, building and
executing them cost more CPU than verifying the notification; here each is one prepared SQL string
per dialect, with the columns' own SQLAlchemy type processors applied to the parameters and results
(so values are stored exactly as the ORM stores them: naive UTC datetimes, JSON text, booleans).

On SQLite a whole batch of payment notifications (one group commit) is written with a few statements
per batch instead (the ``*_many`` methods, see ``engine.notify.apply``).

Semantics are the ORM paths' (``repo.cas_update_payment``, ``repo.append_event``):
the payment row is read ``FOR UPDATE`` on PostgreSQL (SQLite transactions start with
``BEGIN IMMEDIATE``), updated only if its ``version`` is unchanged, and status event ids are handed
out under the same advisory lock as ``repo.append_event``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Dialect, Table

from pos_app.engine.store.models import InboxNotification, Payment, StatusEvent
from pos_app.engine.store.repo import EVENT_LOCK_KEY
from pos_app.engine.store.rows import PaymentRow

PAYMENTS: Table = Payment.__table__  # type: ignore[attr-defined]
INBOX: Table = InboxNotification.__table__  # type: ignore[attr-defined]
STATUS_EVENTS: Table = StatusEvent.__table__  # type: ignore[attr-defined]

Processor = Callable[[Any], Any]
#: (row id, version as read, changed columns, version after) of one payment row.
PaymentUpdate = tuple[int, int, Mapping[str, Any], int]


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
        #: (column index, result processor) of the few typed columns (datetimes, booleans).
        self._payment_processed: list[tuple[int, Processor]] = []
        for index, column in enumerate(PAYMENTS.columns):
            process = _result_processor(column, dialect)
            if process is not None:
                self._payment_processed.append((index, process))
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
        self.insert_event_many_sql = self._sql(
            "INSERT INTO status_events (terminal_id, type, out_trade_no, payload, created_at) "
            "VALUES (:terminal_id, :type, :out_trade_no, :payload, :created_at)"
        )
        applied_columns = (*inbox_columns, "applied_at", "outcome")
        self.insert_inbox_applied_sql = self._sql(
            f"INSERT INTO notification_inbox ({', '.join(applied_columns)}) "
            f"VALUES ({', '.join(':' + c for c in applied_columns)})"
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

    def payment(self, cursor: Any, out_trade_no: str, *, lock: bool) -> PaymentRow | None:
        """The payment row (values typed as the ORM's)."""
        cursor.execute(self.select_payment_locked if lock else self.select_payment, {"otn": out_trade_no})
        raw = cursor.fetchone()
        return None if raw is None else self._payment_row(raw)

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

    # -- whole-batch statements (one per batch instead of one per notification) --------------------
    #
    # For a transaction that holds the database's only write lock (SQLite after BEGIN IMMEDIATE):
    # nothing can change between its reads and its writes, so it may read a batch's rows once, decide
    # in memory, and write each table with one executemany. Several engine processes on one SQLite
    # file still serialise on that lock.

    def bind_datetime(self, value: datetime) -> Any:
        """``value`` as the driver stores it in a ledger datetime column (one conversion, reused)."""
        process = self._bind[("status_events", "created_at")]
        return process(value) if process is not None else value

    def find_inbox_many(self, cursor: Any, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, bool]]:
        """(row id, applied) of each (channel, event_id) already in the inbox."""
        by_channel: dict[str, list[str]] = {}
        for channel, event_id in keys:
            by_channel.setdefault(channel, []).append(event_id)
        found: dict[tuple[str, str], tuple[int, bool]] = {}
        for channel, event_ids in by_channel.items():
            for chunk in _chunks(sorted(set(event_ids))):
                params = {f"e{i}": event_id for i, event_id in enumerate(chunk)}
                cursor.execute(self._inbox_in_sql(len(chunk)), {**params, "channel": channel})
                for event_id, row_id, applied_at in cursor.fetchall():
                    found[(channel, event_id)] = (int(row_id), applied_at is not None)
        return found

    def payments_many(self, cursor: Any, out_trade_nos: Iterable[str], *, lock: bool) -> dict[str, PaymentRow]:
        """The payment rows (as :meth:`payment` returns them) of those order numbers that exist."""
        found: dict[str, PaymentRow] = {}
        for chunk in _chunks(sorted(set(out_trade_nos))):
            params = {f"o{i}": otn for i, otn in enumerate(chunk)}
            cursor.execute(self._payments_in_sql(len(chunk), lock), params)
            for raw in cursor.fetchall():
                row = self._payment_row(raw)
                found[row.out_trade_no] = row
        return found

    def update_payments(self, cursor: Any, updates: Sequence[PaymentUpdate], now: Any) -> bool:
        """Compare-and-set each (row id, version read, changes, new version); ``now`` already bound.
        True if every row still had the version read."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row_id, version, changes, new_version in updates:
            params = {f"v_{c}": v for c, v in self._params("payments", changes).items()}
            params.update(v_version=new_version, v_updated_at=now, w_id=row_id, w_version=version)
            by_columns.setdefault(tuple(sorted(changes)), []).append(params)
        updated = 0
        for columns, rows in by_columns.items():
            cursor.executemany(self._cas_sql(columns), rows)
            updated += int(cursor.rowcount)
        return updated == len(updates)

    def insert_events_many(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Status events in order (ids ascending in list order); ``created_at`` already bound."""
        if not rows:
            return
        if self.postgres:
            cursor.execute(self.event_lock_sql, {"key": EVENT_LOCK_KEY})
            cursor.fetchall()
        cursor.executemany(self.insert_event_many_sql, rows)

    def insert_inbox_applied(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """New inbox rows, already applied (``parsed`` and the datetimes already bound). A row that
        exists after all raises IntegrityError: the caller's reads were not exclusive."""
        if rows:
            cursor.executemany(self.insert_inbox_applied_sql, rows)

    def mark_inbox_applied_many(self, cursor: Any, marks: Sequence[tuple[int, str]], now: Any) -> None:
        """Mark recorded-but-unapplied rows applied; ``now`` already bound."""
        if marks:
            rows = [{"id": row_id, "outcome": outcome[:64], "applied_at": now} for row_id, outcome in marks]
            cursor.executemany(self.mark_inbox_sql, rows)

    def bind_parsed(self, parsed: Mapping[str, Any]) -> Any:
        process = self._bind[("notification_inbox", "parsed")]
        return process(parsed) if process is not None else parsed

    @functools.lru_cache(maxsize=16)  # noqa: B019 - one HotPath per dialect, kept for the process
    def _inbox_in_sql(self, count: int) -> str:
        marks = ", ".join(f":e{i}" for i in range(count))
        return self._sql(
            "SELECT event_id, id, applied_at FROM notification_inbox "
            f"WHERE channel = :channel AND event_id IN ({marks})"
        )

    @functools.lru_cache(maxsize=16)  # noqa: B019 - one HotPath per dialect, kept for the process
    def _payments_in_sql(self, count: int, lock: bool) -> str:
        marks = ", ".join(f":o{i}" for i in range(count))
        sql = f"SELECT {', '.join(self._payment_columns)} FROM payments WHERE out_trade_no IN ({marks})"
        return self._sql(sql + (" ORDER BY id FOR UPDATE" if lock and self.postgres else ""))

    def _payment_row(self, raw: Sequence[Any]) -> PaymentRow:
        values = list(raw)  # every column, in the table's order: PaymentRow's field order (a test keeps it)
        for index, process in self._payment_processed:
            value = values[index]
            if value is not None:
                values[index] = process(value)
        return PaymentRow(*values)

    def insert_event(self, cursor: Any, values: Mapping[str, Any]) -> int:
        if self.postgres:
            cursor.execute(self.event_lock_sql, {"key": EVENT_LOCK_KEY})
            cursor.fetchall()
        cursor.execute(self.insert_event_sql, self._params("status_events", values))
        row = cursor.fetchone()
        assert row is not None
        return int(row[0])


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """Slices small enough for any SQLite build's bound-parameter limit (999 on old ones)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


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
