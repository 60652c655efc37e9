"""Benchmark: the console's Today page and payment searches on a ledger of 1,000,000 payments.
Target: each answers within 200 ms of server time (the request through the real app in-process:
session check, SQL, rendering; no network), from the indexes of ledger migration 0005, not a cache.

The ledger is a real one (``open_ledger``: migrations, WAL); its rows are written with ``executemany``
in one transaction: 1,000,000 payments over 100 business days (10,000 a day) in 10 stores of 3 tills,
both channels, four cashiers a store, every hour 08–21, realistic states (paid, refunded in part or in
whole, closed, failed, reversed). One owner and one store manager sign in.

Run: ``.venv/bin/python tests/bench/bench_console.py [N_PAYMENTS] [--pg URL]`` (not part of the test
run; ``--pg``: an empty PostgreSQL database instead of a SQLite file). Prints
the build time, then per request the cold first call and the median / worst of 20 warm calls.
"""

from __future__ import annotations

import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.testclient import TestClient

from pos_app.config import Settings, load_settings
from pos_app.console import accounts
from pos_app.console.app import create_console_app
from pos_app.engine.store import open_ledger
from pos_app.engine.store.console_accounts import Role

LIMIT_MS = 200.0
DAYS = 100
FIRST_DAY = date(2026, 8, 28)
STORES = [f"S{n:05d}" for n in range(1, 11)]
STATES = [("PAID", 880), ("PARTIALLY_REFUNDED", 10), ("REFUNDED", 10), ("CLOSED", 50), ("FAILED", 25), ("REVERSED", 25)]
PASSWORD = "benchmark password"


def _till(store_index: int, number: int) -> str:
    """A terminal id, unique in the ledger: A001 … A003 in the first store, B001 … in the second."""
    return f"{chr(ord('A') + store_index)}{number:03d}"


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


_PAYMENT_COLUMNS = (
    "out_trade_no, terminal_id, store_id, channel, mode, amount_fen, subject, operator, state, business_day,"
    " transaction_id, refunded_fen, needs_attention, cancel_requested, failed_checks, version, created_at,"
    " updated_at, paid_at"
)
_TERMINAL_COLUMNS = "terminal_id, store_id, name, sealed_key, activated_at, disabled"


def _write_sqlite(path: str, rows: list[tuple[object, ...]], terminals: list[tuple[object, ...]]) -> None:
    with sqlite3.connect(path) as db:
        db.executemany(f"INSERT INTO payments ({_PAYMENT_COLUMNS}) VALUES ({','.join('?' * 19)})", rows)
        db.executemany(f"INSERT INTO terminals ({_TERMINAL_COLUMNS}) VALUES (?, ?, ?, 'x', ?, 0)", terminals)
        db.execute("ANALYZE")


def _write_postgres(url: str, rows: list[tuple[object, ...]], terminals: list[tuple[object, ...]]) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as db:
        with db.cursor().copy(f"COPY payments ({_PAYMENT_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        db.cursor().executemany(
            f"INSERT INTO terminals ({_TERMINAL_COLUMNS}) VALUES (%s, %s, %s, 'x', %s, false)", terminals
        )
        db.commit()
        db.autocommit = True
        db.execute("VACUUM ANALYZE payments")


def build(settings: Settings, n: int) -> float:
    open_ledger(settings.database_url).dispose()  # the schema, with migration 0005's indexes
    started = time.perf_counter()
    rng = random.Random(7)
    states, weights = zip(*STATES, strict=True)
    rows: list[tuple[object, ...]] = []
    per_day = n // DAYS
    for i in range(n):
        day = FIRST_DAY + timedelta(days=min(i // per_day, DAYS - 1))
        store = STORES[i % len(STORES)]
        till = _till(i % len(STORES), (i // len(STORES)) % 3 + 1)
        state = rng.choices(states, weights)[0]
        amount = rng.randint(100, 50_000)
        refunded = {"PARTIALLY_REFUNDED": amount // 2, "REFUNDED": amount}.get(state, 0)
        local = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) - timedelta(hours=8)
        at = local + timedelta(seconds=rng.randint(0, 14 * 3600 - 1))
        paid = _text(at + timedelta(seconds=4)) if state in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED") else None
        rows.append(
            (f"P{day:%y%m%d}{store}{till}{i:08d}", till, store, ("wechat", "alipay")[i % 2], "micropay", amount,
             "Goods", f"Cashier {i % 4}", state, day.isoformat(), f"4200{i:016d}", refunded, False, False, 0, 1,
             _text(at), _text(at), paid)
        )  # fmt: skip
    terminals: list[tuple[object, ...]] = [
        (_till(n, t), s, f"Till {t}", _text(datetime.now(UTC))) for n, s in enumerate(STORES) for t in range(1, 4)
    ]
    if settings.database_url.startswith("sqlite"):
        _write_sqlite(settings.database_url[len("sqlite:///") :], rows, terminals)
    else:
        _write_postgres(settings.database_url, rows, terminals)
    ledger = open_ledger(settings.database_url)
    accounts.add_user(ledger, name="owner", role=Role.OWNER, store_id=None, password=PASSWORD, by="bench")
    accounts.add_user(ledger, name="manager", role=Role.MANAGER, store_id=STORES[3], password=PASSWORD, by="bench")
    ledger.dispose()
    return time.perf_counter() - started


def signed_in(app: object, name: str) -> TestClient:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx2: plain httpx is what we have
        from starlette.testclient import TestClient

    client = TestClient(app, base_url="http://127.0.0.1")  # type: ignore[arg-type]
    client.__enter__()
    page = client.get("/login")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post("/login", data={"form_token": token.group(1), "name": name, "password": PASSWORD},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return client


def timed(client: TestClient, path: str, runs: int = 20) -> tuple[float, float, float, int]:
    def once() -> tuple[float, int]:
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, (path, answer.status_code)
        return elapsed, answer.text.count('href="/payments/P')

    cold, listed = once()
    warm = [once()[0] for _ in range(runs)]
    return cold, statistics.median(warm), max(warm), listed


def main() -> None:
    args = sys.argv[1:]
    database_url = "sqlite:///engine.sqlite3"
    if "--pg" in args:  # an empty PostgreSQL database: --pg postgresql+psycopg://user@host:port/db
        database_url = args.pop(args.index("--pg") + 1)
        args.remove("--pg")
    n = int(args[0]) if args else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "pos.toml").write_text(f'[engine]\ndatabase_url = "{database_url}"\n', "utf-8")
        settings = load_settings(home / "pos.toml")
        kind = "SQLite" if database_url.startswith("sqlite") else "PostgreSQL"
        print(f"building a ledger of {n:,} payments ({kind}) …", flush=True)
        print(f"built in {build(settings, n):.1f} s", flush=True)
        app = create_console_app(settings)
        owner, manager = signed_in(app, "owner"), signed_in(app, "manager")
        busy = (FIRST_DAY + timedelta(days=DAYS // 2)).isoformat()
        cases = [
            ("Today, owner, every store", owner, f"/today?day={busy}"),
            ("Today, owner, one store", owner, f"/today?day={busy}&store={STORES[5]}"),
            ("Today, store manager", manager, f"/today?day={busy}"),
            ("Payments, newest 50 (owner)", owner, "/payments"),
            ("Payments, newest 50 (manager)", manager, "/payments"),
            ("Payments by amount ¥123.45 (owner)", owner, "/payments?amount=123.45"),
            ("Payments by amount ¥123.45 (manager)", manager, "/payments?amount=123.45"),
            ("Payments by order number", owner, f"/payments?order=P{date.fromisoformat(busy):%y%m%d}{STORES[2]}C002"),
            ("Payments by transaction id", owner, f"/payments?txn=4200{n // 3:016d}"),
            ("Payments in one hour", owner, f"/payments?since={busy}T12:00&until={busy}T13:00"),
            ("Payments REFUNDED at till D002 (manager)", manager, "/payments?state=REFUNDED&till=D002"),
            ("Payments FAILED in a day (owner)", owner, f"/payments?state=FAILED&since={busy}T00:00&until={busy}T23:59"),  # noqa: E501
        ]  # fmt: skip
        print(f"{'request':44} {'cold ms':>8} {'median':>8} {'worst':>8} {'listed':>6}")
        over = []
        for label, client, path in cases:
            cold, median, worst, listed = timed(client, path)
            print(f"{label:44} {cold:8.1f} {median:8.1f} {worst:8.1f} {listed:6d}", flush=True)
            if median > LIMIT_MS:
                over.append(label)
        print(f"target: median ≤ {LIMIT_MS:.0f} ms — " + ("met" if not over else "MISSED: " + ", ".join(over)))
        # Not under the target: the journal-versus-ledger comparison (engine.sync_compare) reads
        # every payment and synced event of each till, not one day's.
        cold, median, worst, _ = timed(manager, f"/days?day={busy}", runs=3)
        print(f"{'Days, store manager (3 tills; no target)':44} {cold:8.1f} {median:8.1f} {worst:8.1f}", flush=True)
        for client in (owner, manager):
            client.__exit__(None, None, None)


if __name__ == "__main__":
    main()
