"""Reading the engine side of a day (ledger payments/refunds, synced terminal journals) into the
matcher's compact columns, and applying what the bill proved back to the ledger.

Times: a bill day is a Beijing calendar day (UTC+8). The ledger stores aware UTC datetimes; a
payment is *due* in day D's bill when it was paid within D (Beijing time). Every read here is a
read-only transaction (``store.db.reader``): on SQLite it takes no write lock, so reading a big day
never holds up the payments being taken meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
import time as clock
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain, compress
from operator import not_
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, Executable, and_, case, func, inspect, or_, select, union_all
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, can_transition
from pos_app.engine.reconcile.bill import Bill
from pos_app.engine.reconcile.download import parse_archived
from pos_app.engine.reconcile.inputs import JournalSale, LedgerRefund, LedgerRow, PaidBatch
from pos_app.engine.reconcile.matcher import match_channel
from pos_app.engine.reconcile.results import ChannelMatch, Settlement
from pos_app.engine.store import repo
from pos_app.engine.store.db import reader
from pos_app.engine.store.models import Payment, Refund
from pos_app.engine.store.terminals import SyncedJournalEvent

log = logging.getLogger(__name__)

_IN_CHUNK = 500
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

    :meth:`read_ahead` reads all of it in a background thread meanwhile (see :func:`match_archived`).
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
        the order numbers of the other payments (a few; a second scan of the day cost ~0.8 s of CPU
        at a million payments). None (read the rows instead) if an order number holds the separator.
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
        for i in range(0, len(self._others), _IN_CHUNK):
            chunk = self._others[i : i + _IN_CHUNK]
            yield from conn.execute(select(*columns).where(p.out_trade_no.in_(chunk))).cursor.fetchall()  # type: ignore[call-overload]


def _arrow(values: Any, kind: Any) -> Any:
    return values if isinstance(values, pa.Array) else pa.array(values, kind)


def lookup_terminals(engine: Engine, out_trade_nos: Sequence[str]) -> dict[str, str]:
    """out_trade_no → terminal id, for the few bulk-read payments that become open items."""
    p = Payment.__table__.c  # type: ignore[attr-defined]
    found: dict[str, str] = {}
    with reader(engine).connect() as conn:
        for i in range(0, len(out_trade_nos), _IN_CHUNK):
            chunk = list(out_trade_nos[i : i + _IN_CHUNK])
            stmt = select(p.out_trade_no, p.terminal_id).where(p.out_trade_no.in_(chunk))
            found.update((row[0], row[1]) for row in conn.execute(stmt))
    return found


def match_day(
    engine: Engine,
    bill: Bill,
    day: date,
    channel: Channel,
    refunds: Iterable[LedgerRefund] = (),
    journal: dict[str, JournalSale] | None = None,
) -> ChannelMatch:
    """Match ``bill`` against the ledger's ``day`` of ``channel`` (what ``pos reconcile``, the
    scheduler and the benchmark run): the bulk of PAID payments as column batches, the others as
    full rows, other days and terminals looked up on demand."""
    with LedgerDay(engine, day, channel) as ledger:
        return _match(engine, bill, ledger, refunds, journal)


def match_archived(
    engine: Engine,
    path: Path,
    day: date,
    channel: Channel,
    journal: dict[str, JournalSale] | None = None,
    *,
    timings: dict[str, float] | None = None,
) -> tuple[Bill, list[LedgerRefund], ChannelMatch]:
    """Parse the archived bill and match it against the ledger's ``day`` (what ``pos reconcile``,
    the scheduler and the benchmark run).

    The day's payments are read in a background thread while the bill is parsed (see
    :meth:`LedgerDay.read_ahead`); then matched as :func:`match_day` does. A bill the parser
    refuses raises BillFormatError as before. ``timings`` (if given) gets ``parsed``, the
    ``time.perf_counter()`` at which the bill was parsed.
    """
    with LedgerDay(engine, day, channel) as ledger:
        ledger.read_ahead()
        bill = parse_archived(path, channel, day)
        if timings is not None:
            timings["parsed"] = clock.perf_counter()
        refunds = load_ledger_refunds(engine, day, channel)
        ledger.wait()
        # The parse's and the read's freed Arrow buffers go back to the system before the join
        # allocates its hash table (the allocator keeps them for reuse otherwise): peak memory.
        pa.default_memory_pool().release_unused()
        return bill, refunds, _match(engine, bill, ledger, refunds, journal)


def _match(
    engine: Engine,
    bill: Bill,
    ledger: LedgerDay,
    refunds: Iterable[LedgerRefund],
    journal: dict[str, JournalSale] | None,
) -> ChannelMatch:
    return match_channel(
        bill,
        ledger.others(),
        refunds,
        journal,
        paid=ledger.paid(),
        lookup_payments=lambda numbers: lookup_payments(engine, numbers),
        lookup_refunds=lambda numbers: lookup_refunds(engine, numbers),
        lookup_terminals=lambda numbers: lookup_terminals(engine, numbers),
    )


def _batches(engine: Engine, stmt: Executable) -> Iterator[Sequence[Any]]:
    with reader(engine).connect() as conn:
        cursor = conn.execute(stmt).cursor
        while batch := cursor.fetchmany(20_000):
            yield batch


def count_due(engine: Engine, day: date, channel: Channel) -> int:
    """How many payments with money in (and refunds) of ``channel`` the day's bill must list."""
    start, end = day_bounds(day)
    p = Payment.__table__.c  # type: ignore[attr-defined]
    r = Refund.__table__.c  # type: ignore[attr-defined]
    paid = select(func.count()).where(p.channel == channel.value, p.paid_at >= start, p.paid_at < end)
    refunded = (
        select(func.count())
        .select_from(Refund.__table__.join(Payment.__table__, r.out_trade_no == p.out_trade_no))  # type: ignore[attr-defined]
        .where(p.channel == channel.value, r.business_day == day.isoformat())
    )
    with reader(engine).connect() as conn:
        return int(conn.execute(paid).scalar_one()) + int(conn.execute(refunded).scalar_one())


def lookup_payments(engine: Engine, out_trade_nos: Sequence[str]) -> list[LedgerRow]:
    """Payments by number, whatever their day (for bill rows outside the day's window); due = 0."""
    p = Payment.__table__.c  # type: ignore[attr-defined]
    found: list[LedgerRow] = []
    with reader(engine).connect() as conn:
        for i in range(0, len(out_trade_nos), _IN_CHUNK):
            chunk = list(out_trade_nos[i : i + _IN_CHUNK])
            stmt = select(p.out_trade_no, p.state, p.amount_fen, p.terminal_id).where(p.out_trade_no.in_(chunk))
            found.extend((row[0], row[1], row[2], row[3], 0) for row in conn.execute(stmt))
    return found


def load_ledger_refunds(engine: Engine, day: date, channel: Channel) -> list[LedgerRefund]:
    """Refunds of ``channel``'s payments asked for or succeeded on ``day``."""
    start, end = day_bounds(day)
    r = Refund.__table__.c  # type: ignore[attr-defined]
    p = Payment.__table__.c  # type: ignore[attr-defined]
    today = day.isoformat()
    succeeded_in_day = and_(r.succeeded_at >= start, r.succeeded_at < end)
    due = case((succeeded_in_day, 1), (and_(r.succeeded_at.is_(None), r.business_day == today), 1), else_=0)
    # Two steps, not a join filtered on the payment's channel: given that filter, SQLite walks
    # every payment ever taken to find the day's few refunds (0.9 s on a million-payment ledger).
    stmt = select(r.out_refund_no, r.out_trade_no, r.amount_fen, r.state, due).where(
        or_(r.business_day == today, succeeded_in_day)
    )
    with reader(engine).connect() as conn:
        rows = conn.execute(stmt).all()
        numbers = sorted({row[1] for row in rows})
        ours: set[str] = set()
        for i in range(0, len(numbers), _IN_CHUNK):
            chunk = numbers[i : i + _IN_CHUNK]
            found = select(p.out_trade_no).where(p.out_trade_no.in_(chunk), p.channel == channel.value)
            ours.update(conn.execute(found).scalars())
    return [LedgerRefund(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows if row[1] in ours]


def lookup_refunds(engine: Engine, out_refund_nos: Sequence[str]) -> list[LedgerRefund]:
    r = Refund.__table__.c  # type: ignore[attr-defined]
    found: list[LedgerRefund] = []
    with reader(engine).connect() as conn:
        for i in range(0, len(out_refund_nos), _IN_CHUNK):
            chunk = list(out_refund_nos[i : i + _IN_CHUNK])
            stmt = select(r.out_refund_no, r.out_trade_no, r.amount_fen, r.state).where(r.out_refund_no.in_(chunk))
            found.extend(LedgerRefund(row[0], row[1], row[2], row[3], False) for row in conn.execute(stmt))
    return found


def has_journals(engine: Engine) -> bool:
    """True once any terminal has synced its journal: only then are journals compared."""
    if not inspect(engine).has_table(SyncedJournalEvent.__tablename__):
        return False  # no terminal registry on this database yet
    with reader(engine).connect() as conn:
        return conn.execute(select(SyncedJournalEvent.__table__.c.seq).limit(1)).first() is not None  # type: ignore[attr-defined]


def load_journal_sales(engine: Engine, day: date) -> dict[str, JournalSale]:
    """The last state each terminal journaled for its wallet and cash sales of ``day``.

    Every sale-changing event carries a ``sale`` snapshot (pos_app.journal.snapshots); the latest
    one per out_trade_no, in (terminal, seq) order, is what the terminal last knew.
    """
    start, end = day_bounds(day)
    t = SyncedJournalEvent.__table__.c  # type: ignore[attr-defined]
    stmt = (
        select(t.terminal_id, t.payload_json)
        .where(t.at >= start - timedelta(days=1), t.at < end + timedelta(days=1))
        .order_by(t.terminal_id, t.seq)
    )
    sales: dict[str, JournalSale] = {}
    wanted = day.isoformat()
    with reader(engine).connect() as conn:
        for terminal_id, payload_json in conn.execute(stmt):
            try:
                sale = json.loads(payload_json).get("sale")
            except ValueError:
                continue
            if not isinstance(sale, dict) or sale.get("business_day") != wanted:
                continue
            try:
                channel = Channel(str(sale["channel"]))
                sales[str(sale["out_trade_no"])] = JournalSale(
                    str(sale["out_trade_no"]),
                    str(sale.get("terminal_id") or terminal_id),
                    channel,
                    int(sale["amount_fen"]),
                    str(sale["state"]),
                )
            except (KeyError, ValueError, TypeError):
                log.warning("journal event of terminal %s has an unreadable sale snapshot", terminal_id)
    return sales


def apply_settlements(engine: Engine, settlements: Iterable[Settlement], *, bill_day: date, now: datetime) -> list[str]:
    """Move each payment the bill proved to its state (compare-and-set + a status event for its terminal).

    A payment that changed meanwhile (another process settled it) is left alone. Returns the
    out_trade_nos changed. ``paid_at`` is the bill's time of the payment.
    """
    changed: list[str] = []
    day_start = datetime.combine(bill_day, time(0), CHINA_TZ)
    for item in settlements:
        if item.out_refund_no is not None or not isinstance(item.target, PaymentState):
            continue
        with Session(engine) as session, session.begin():
            payment = repo.get_payment(session, item.out_trade_no, lock=True)
            if payment is None or payment.amount_fen != item.amount_fen:
                continue
            current = PaymentState(payment.state)
            # Settled meanwhile by another process (or moved where the bill's outcome no longer applies).
            if current == item.target or not can_transition(current, item.target):
                continue
            changes: dict[str, object] = {"state": item.target.value}
            if item.target is PaymentState.PAID:
                changes["paid_at"] = day_start + timedelta(seconds=item.at_s)
                if item.transaction_id and not payment.transaction_id:
                    changes["transaction_id"] = item.transaction_id
            if not repo.cas_update_payment(session, payment, changes, now):
                continue
            repo.record_attempt(
                session, payment.out_trade_no, "reconcile", item.target.value.lower(), now, detail="provider bill"
            )
            repo.append_event(session, repo.payment_view(payment), now)
            changed.append(payment.out_trade_no)
            log.info("reconcile settled %s as %s from the provider's bill", payment.out_trade_no, item.target)
    return changed
