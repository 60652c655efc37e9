"""Benchmark: daily totals, the X report and the Z report (day close) over a terminal journal of
1,000,000 sales. Target: each answers in ≤ 50 ms — from the indexes of journal migrations 0002/0003
(``ix_sales_day_report``, ``ix_sales_day_time``, ``ix_refunds_created_at``), not from a cache.

The journal is a real one (``open_journal``: migrations, WAL, synchronous=FULL); its rows are written
with ``executemany`` in one transaction (the per-sale repository functions would take an hour):
1,000,000 sales over 365 business days (~2,740 a day, every hour 08–21, three channels, four
cashiers, realistic states: paid, partially/fully refunded, closed, failed, reversed, voided cash),
~1 % refunds, one shift per day with its drawer movements.

Run: ``.venv/bin/python tests/bench/bench_reports.py [N_SALES]`` (the bench folder is not part of the
default test run). Prints the build time, the query plan and the timings (cold first call, then the
median and worst of 20 warm calls).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from pos_app.journal import add_staff, open_journal, session_scope
from pos_app.journal import figures as day_figures
from pos_app.journal.figures import daily_totals
from pos_app.journal.reports import close_day, x_report
from pos_app.journal.shifts import staff_named

TERMINAL, STORE = "T001", "S00001"
FIRST_DAY = date(2025, 11, 1)
DAYS = 365
LIMIT_MS = 50.0
CASHIERS = ("Ann", "Bob", "Chen", "Dana")
STATES = [("PAID", 900), ("PARTIALLY_REFUNDED", 8), ("REFUNDED", 7), ("CLOSED", 40), ("FAILED", 20), ("REVERSED", 25)]


def _utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, n_sales: int) -> float:
    """Write the journal; returns seconds taken."""
    engine = open_journal(path)
    with session_scope(engine) as session:
        for name in CASHIERS:
            add_staff(session, name, f"{1000 + CASHIERS.index(name)}", "cashier", terminal_id=TERMINAL)
        add_staff(session, "Max", "9999", "manager", terminal_id=TERMINAL)
    engine.dispose()
    started = time.perf_counter()
    rng = random.Random(1)
    states, weights = zip(*STATES, strict=True)
    per_day = n_sales // DAYS + 1
    sales: list[tuple[object, ...]] = []
    refunds: list[tuple[object, ...]] = []
    shifts: list[tuple[object, ...]] = []
    movements: list[tuple[object, ...]] = []
    sale_id = 0
    for day_index in range(DAYS):
        day = FIRST_DAY + timedelta(days=day_index)
        opened = datetime(day.year, day.month, day.day, 7, 55, tzinfo=UTC)
        shift_id = day_index + 1
        shifts.append((shift_id, TERMINAL, "Ann", 50000, _utc_text(opened), _utc_text(opened + timedelta(hours=14)),
                       "Ann", 0, 0))  # fmt: skip
        movements.append((TERMINAL, shift_id, "float", 50000, None, "", "Ann", _utc_text(opened)))
        span = 14 * 3600 / per_day
        for k in range(per_day):
            if sale_id >= n_sales:
                break
            sale_id += 1
            at = opened + timedelta(minutes=5, seconds=k * span + rng.random() * span)
            channel = rng.choice(("WECHAT", "ALIPAY", "CASH"))
            state = rng.choices(states, weights)[0]
            if channel == "CASH" and state in ("CLOSED", "FAILED"):
                state = "PAID"
            amount = rng.randint(100, 30000)
            refunded = amount if state == "REFUNDED" else (amount // 3 if state == "PARTIALLY_REFUNDED" else 0)
            txn = f"42{sale_id:026d}" if channel != "CASH" and state not in ("CLOSED", "FAILED") else None
            number = f"P{at:%y%m%d%H%M%S}{STORE}{TERMINAL}{sale_id:08d}"
            cashier = CASHIERS[sale_id % len(CASHIERS)]
            mode = "CASH" if channel == "CASH" else rng.choice(("NATIVE", "MICROPAY"))
            sales.append((sale_id, number, TERMINAL, STORE, cashier, channel, mode, "Goods", amount, state, refunded,
                          txn, shift_id, day.isoformat(), _utc_text(at), _utc_text(at)))  # fmt: skip
            if channel == "CASH" and state in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED", "REVERSED"):
                movements.append((TERMINAL, shift_id, "sale", amount, number, "", cashier, _utc_text(at)))
            if refunded:
                refund_at = at + timedelta(minutes=30)
                refunds.append((f"R{sale_id:012d}", sale_id, number, refunded, "SUCCESS", "", None, None, cashier,
                                "Max", _utc_text(refund_at), _utc_text(refund_at)))  # fmt: skip
    raw = open_journal(path)
    with raw.begin() as connection:
        dbapi = connection.connection.driver_connection
        assert dbapi is not None
        dbapi.executemany(
            "INSERT INTO shifts (id, terminal_id, cashier, opening_float_fen, opened_at, closed_at, closed_by,"
            " expected_cash_fen, counted_cash_fen) VALUES (?,?,?,?,?,?,?,?,?)",
            shifts,
        )
        dbapi.executemany(
            "INSERT INTO sales (id, out_trade_no, terminal_id, store_id, cashier, channel, mode, subject, amount_fen,"
            " state, refunded_fen, transaction_id, shift_id, business_day, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            sales,
        )
        dbapi.executemany(
            "INSERT INTO refunds (out_refund_no, sale_id, out_trade_no, amount_fen, state, reason, refund_id,"
            " failure_reason, cashier, approved_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            refunds,
        )
        dbapi.executemany(
            "INSERT INTO cash_movements (terminal_id, shift_id, kind, amount_fen, out_trade_no, reason, cashier, at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            movements,
        )
    with raw.begin() as connection:
        connection.execute(text("ANALYZE"))
    raw.dispose()
    return time.perf_counter() - started


def timed(call: object, runs: int = 20) -> tuple[float, float, float, float]:
    """(cold ms, median ms, worst ms, median CPU ms) of ``call()``: wall-clock, and the process's CPU time
    (which leaves out time spent waiting for a core on a loaded machine)."""
    assert callable(call)
    started = time.perf_counter()
    call()
    cold = (time.perf_counter() - started) * 1000
    samples, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return cold, statistics.median(samples), max(samples), statistics.median(cpu)


def main(n_sales: int = 1_000_000) -> int:
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "journal.sqlite3"
        seconds = build(path, n_sales)
        size_mb = path.stat().st_size / 1e6
        engine = open_journal(path)
        day = FIRST_DAY + timedelta(days=200)
        with session_scope(engine) as session:
            count = session.exec(text("SELECT count(*) FROM sales")).one()[0]  # type: ignore[call-overload]
            plans = [
                session.connection()
                .exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + sql.format(terminal=" AND s.terminal_id = :terminal"),
                    {"day": day.isoformat(), "terminal": TERMINAL, "offset": 0},
                )
                .all()
                for sql in (day_figures._DAY_SLICES_SQL, day_figures._DAY_HOURS_SQL)
            ]
            manager = staff_named(session, "Max")
        print(f"journal: {count:,} sales, {size_mb:,.0f} MB, built in {seconds:.1f} s")
        for plan in plans:
            print("plan:", " | ".join(str(row[-1]) for row in plan))
        failed = False

        def totals() -> object:
            with session_scope(engine) as session:
                return daily_totals(session, day, terminal_id=TERMINAL, offset_minutes=0)

        def x() -> object:
            with session_scope(engine) as session:
                return x_report(session, day, terminal_id=TERMINAL, by=manager, at=datetime.now(UTC), offset_minutes=0)

        for name, call in (("daily totals", totals), ("X report", x)):
            cold, median, worst, cpu = timed(call)
            print(
                f"{name:<13} cold {cold:6.1f} ms · median {median:6.1f} ms · worst {worst:6.1f} ms · CPU {cpu:5.1f} ms"
            )
            failed |= median > LIMIT_MS
        result = totals()
        assert hasattr(result, "as_dict")
        figures = result.as_dict()["total"]
        print(
            f"  {day}: {figures['sales_count']:,} sales ¥{figures['sales_fen'] / 100:,.2f},"
            f" {figures['refunds_count']} refunds, {figures['voids_count']} voids"
        )
        z_times, commit_times, z_cpu = [], [], []
        for offset in range(5):  # five different days: each Z is a real day close
            z_day = day + timedelta(days=offset)
            with Session(engine, expire_on_commit=False) as session:
                started, cpu_started = time.perf_counter(), time.process_time()
                report = close_day(session, z_day, terminal_id=TERMINAL, by=manager, at=datetime.now(UTC),
                                   offset_minutes=0)  # fmt: skip
                computed = time.perf_counter()
                z_cpu.append((time.process_time() - cpu_started) * 1000)
                session.commit()
                z_times.append((computed - started) * 1000)
                commit_times.append((time.perf_counter() - computed) * 1000)
            assert report.number == offset + 1
        print(
            f"Z report      first {z_times[0]:6.1f} ms · median {statistics.median(z_times):6.1f} ms"
            f" · worst {max(z_times):6.1f} ms · CPU {statistics.median(z_cpu):5.1f} ms"
            " (figures, checks, row + day.close event written)"
            f" + commit/fsync median {statistics.median(commit_times):.1f} ms"
        )
        failed |= statistics.median(z_times) > LIMIT_MS
        engine.dispose()
    print("FAIL" if failed else f"OK (≤ {LIMIT_MS:.0f} ms)")
    return 1 if failed else 0


def test_reports_bench() -> None:
    assert main(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000) == 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
