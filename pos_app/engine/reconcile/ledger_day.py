"""The engine's payments of one bill day, read for the matcher in one read transaction.

The bulk (PAID, paid within the day) comes as Arrow columns, the other payments as full rows.

Times: a bill day is a Beijing calendar day (UTC+8). The ledger stores aware UTC datetimes; a
payment is *due* in day D's bill when it was paid within D (Beijing time). Every read here is a
read-only transaction (``store.db.reader``): on SQLite it takes no write lock, so reading a big day
never holds up the payments being taken meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain, compress
from operator import not_
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, Executable, and_, case, func, select, union_all
from sqlalchemy.exc import DBAPIError

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.reconcile.inputs import LedgerRow, PaidBatch
from pos_app.engine.store.db import reader
from pos_app.engine.store.models import Payment

#: Numbers per ``IN (...)`` query when rows are read by number.
IN_CHUNK = 500
_BATCH = 20_000


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The bill day as a UTC interval [start, end)."""
    start = datetime.combine(day, time(0), CHINA_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


def _payment_columns(start: datetime, end: datetime, day: str) -> tuple[object, ...]:
    p = Payment.__table__.c  # type: ignore[attr-defined]
    paid_in_day = and_(p.paid_at >= start, p.paid_at < end)
    due = case((paid_in_day, 1), (and_(p.paid_at.is_(None), p.business_day == day), 1), else_=0)
    return (p.out_trade_no, p.state, p.amount_fen, p.terminal_id, due)


def _day_window(day: date, channel: Channel, *columns: Any, where: Any = None) -> Any:
    """``columns`` of the payments of ``channel`` created on ``day`` or paid on it (created the
    evening before): two disjoint index searches glued by UNION ALL (an OR of the two would make the
    database collect and de-duplicate a million row ids first). ``where``: one more condition."""
    start, end = day_bounds(day)
    p = Payment.__table__.c  # type: ignore[attr-defined]
    today, yesterday = day.isoformat(), (day - timedelta(days=1)).isoformat()
    extra = () if where is None else (where,)
    return union_all(
        select(*columns).where(p.channel == channel.value, p.business_day == today, *extra),
        select(*columns).where(
            p.channel == channel.value, p.business_day == yesterday, p.paid_at >= start, p.paid_at < end, *extra
        ),
    )


def iter_ledger_payments(engine: Engine, day: date, channel: Channel) -> Iterator[LedgerRow]:
    """Payments of ``channel`` created on ``day`` or paid on it (created the evening before),
    streamed from the database as matcher rows (nothing is kept: a row is dropped once matched)."""
    start, end = day_bounds(day)
    stmt = _day_window(day, channel, *_payment_columns(start, end, day.isoformat()))
    # These columns need no conversion: the driver's own row tuples are handed over as they are,
    # which skips building a SQLAlchemy row (or any new tuple) per payment, and chained in C.
    return chain.from_iterable(_batches(engine, stmt))


class LedgerDay:
    """One day's payments of a channel, read in one pass in one read transaction, split for the matcher.

    Why not one stream of full rows (:func:`iter_ledger_payments`): turning a database row into
    Python objects costs per column, and for the bulk of a day (PAID, paid within the day) the
    number and the amount are all the matcher needs. So the day is read as (out_trade_no,
    amount_fen, 0 for that bulk / 1 for any other payment); :meth:`paid` yields the bulk as column
    batches, and :meth:`others`, read after it, fetches the full rows of the rest by number (a day
    holds few payments that are not PAID). Use as a context manager; the read transaction (one
    snapshot of the ledger) lasts until it exits.

    :meth:`read_ahead` reads all of it in a background thread meanwhile (see ``day_match.match_archived``).
    """

    def __init__(self, engine: Engine, day: date, channel: Channel) -> None:
        self._engine, self._day, self._channel = engine, day, channel
        self._conn: Connection | None = None
        self._others: list[str] = []
        self._paid_read = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ahead: tuple[list[PaidBatch], list[LedgerRow]] | None = None
        self._ahead_error: BaseException | None = None

    def __enter__(self) -> LedgerDay:
        self._conn = reader(self._engine).connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()  # e.g. the bill was refused: stop reading at the next batch
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("LedgerDay is read inside its with block")
        return self._conn

    def read_ahead(self) -> None:
        """Read the whole day (:meth:`paid`, then :meth:`others`) in a background thread, as Arrow
        arrays, while the caller does something else (parses the bill).

        Why a thread: SQLite steps through the rows without the GIL, and so do most of the bill's
        parse (Arrow's CSV reader and kernels): on two cores the two overlap. The thread uses this
        object's own connection (one read transaction, as without it), and nothing else touches that
        connection until it is done.
        """
        if self._thread is not None or self._paid_read:
            raise RuntimeError("LedgerDay is read once")
        self._connection()

        def run() -> None:
            try:
                batches: list[PaidBatch] = [
                    (_arrow(otns, pa.string()), _arrow(amounts, pa.int64())) for otns, amounts in self._read_paid()
                ]
                self._ahead = (batches, list(self._read_others()))
            except BaseException as exc:  # handed to the reader of paid()
                self._ahead_error = exc
            finally:
                # This thread's freed Arrow buffers back to the system: the allocator keeps a heap
                # per thread, and only the thread itself can hand it back.
                pa.default_memory_pool().release_unused()

        self._thread = threading.Thread(target=run, name="ledger-day-read", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Wait for :meth:`read_ahead` to finish (raises what the read raised)."""
        self._wait()

    def _wait(self) -> tuple[list[PaidBatch], list[LedgerRow]] | None:
        if self._thread is None:
            return None
        self._thread.join()
        if self._ahead_error is not None:
            raise self._ahead_error
        return self._ahead

    def paid(self) -> Iterator[PaidBatch]:
        """Batches of (out_trade_nos, amounts) of the PAID payments paid within the day."""
        ahead = self._wait()
        if ahead is not None:
            yield from ahead[0]
            self._paid_read = True
            return
        yield from self._read_paid()

    def others(self) -> Iterator[LedgerRow]:
        """Full matcher rows of every other payment of the window (read after :meth:`paid`)."""
        if not self._paid_read:
            raise RuntimeError("LedgerDay.others() is read after paid()")
        ahead = self._wait()
        if ahead is not None:
            yield from ahead[1]
            return
        yield from self._read_others()

    def _read_paid(self) -> Iterator[PaidBatch]:
        day = self._day
        start, end = day_bounds(day)
        p = Payment.__table__.c  # type: ignore[attr-defined]
        bulk = and_(p.state == PaymentState.PAID.value, p.paid_at >= start, p.paid_at < end)
        if self._engine.dialect.name == "sqlite":
            joined = self._read_paid_joined(bulk)
            if joined is not None:
                yield joined
                self._paid_read = True
                return
        stmt = _day_window(day, self._channel, p.out_trade_no, p.amount_fen, case((bulk, 0), else_=1))
        cursor = self._connection().execute(stmt).cursor
        while not self._stop.is_set() and (batch := cursor.fetchmany(_BATCH)):
            otns, amounts, other = zip(*batch, strict=True)
            if any(other):
                self._others.extend(compress(otns, other))
                bulk_rows = list(map(not_, other))
                yield list(compress(otns, bulk_rows)), list(compress(amounts, bulk_rows))
            else:
                yield otns, amounts
        self._paid_read = True

    def _read_paid_joined(self, bulk: Any) -> PaidBatch | None:
        """SQLite: the bulk as two texts joined inside SQLite, split into Arrow arrays in C.

        Why: row by row, the driver builds a tuple and three objects per payment and takes the GIL
        back once per row, so beside the bill's parse (which needs the GIL too) the read crawled.
        ``group_concat`` runs the whole scan in one step without the GIL, and the same pass joins
        the order numbers of the other payments (a few, not worth a second scan of the whole day).
        None (read the rows instead) if an order number holds the separator.
        """
        p = Payment.__table__.c  # type: ignore[attr-defined]
        conn = self._connection()
        # One pass over the day: the bulk's numbers and amounts, and the other payments' numbers
        # (a few), each joined into one text (group_concat skips the NULLs of the other kind).
        rows = _day_window(
            self._day,
            self._channel,
            p.out_trade_no.label("otn"),
            p.amount_fen.label("fen"),
            case((bulk, 1), else_=0).label("bulk"),
        ).subquery()
        in_bulk, not_bulk = rows.c.bulk == 1, rows.c.bulk == 0
        stmt = select(
            func.count(case((in_bulk, 1))),
            func.group_concat(case((in_bulk, rows.c.otn)), "\n"),
            func.group_concat(case((in_bulk, rows.c.fen)), "\n"),
            func.count(case((not_bulk, 1))),
            func.group_concat(case((not_bulk, rows.c.otn)), "\n"),
        )
        try:
            count, otns, amounts, other_count, other_otns = conn.execute(stmt).one()
        except DBAPIError as exc:
            if "too big" in str(exc.orig):  # longer than SQLite's longest text (1 GB by default)
                return None
            raise
        others = other_otns.split("\n") if other_count else []
        if len(others) != other_count:
            return None  # an order number with a line break in it
        if count == 0:
            self._others = others
            return pa.array([], pa.string()), pa.array([], pa.int64())
        # Step by step, each text dropped once copied: a million order numbers are ~35 MB a copy.
        joined = pa.array([otns], pa.large_string())
        del otns
        parts = pc.split_pattern(joined, "\n").flatten()
        del joined
        otn_array = parts.cast(pa.string())
        del parts
        amount_array = pc.cast(pc.split_pattern(pa.array([amounts], pa.large_string()), "\n").flatten(), pa.int64())
        del amounts
        if len(otn_array) != count or len(amount_array) != count:
            return None  # an order number with a line break in it
        self._others = others
        return otn_array, amount_array

    def _read_others(self) -> Iterator[LedgerRow]:
        start, end = day_bounds(self._day)
        p = Payment.__table__.c  # type: ignore[attr-defined]
        columns = _payment_columns(start, end, self._day.isoformat())
        conn = self._connection()
        for i in range(0, len(self._others), IN_CHUNK):
            chunk = self._others[i : i + IN_CHUNK]
            yield from conn.execute(select(*columns).where(p.out_trade_no.in_(chunk))).cursor.fetchall()  # type: ignore[call-overload]


def _arrow(values: Any, kind: Any) -> Any:
    return values if isinstance(values, pa.Array) else pa.array(values, kind)


def _batches(engine: Engine, stmt: Executable) -> Iterator[Sequence[Any]]:
    with reader(engine).connect() as conn:
        cursor = conn.execute(stmt).cursor
        while batch := cursor.fetchmany(_BATCH):
            yield batch
