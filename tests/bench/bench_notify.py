"""Benchmark: WeChat Pay notification throughput, the engine against the SDK's own ceiling, with wrk.

The load comes from ``wrk`` (Debian's /usr/bin/wrk; 2 threads, 64 connections, 6 s by default):
``notify_load.lua`` walks pre-built raw requests, each thread its own file of distinct, correctly
signed and encrypted TRANSACTION.SUCCESS notifications for distinct native orders, with one
duplicate (an earlier notification of the same thread, sent again) per ten. Two servers get the
same requests in the same round, on the same server stack (uvicorn, its default event loop and HTTP
parser: uvloop/httptools when installed, printed below) and the same number of processes:

- ``engine``: ``pos engine serve`` (``[engine] workers`` = N): verifies the signature over the raw
  bytes and the time window, decrypts, records the event in the durable inbox (deduplicated),
  applies it to the payment (compare-and-set, status event), commits (fsync) and only then
  acknowledges. SQLite ledger; also PostgreSQL with two workers (fsync on);
- ``reference``: the public ``wechatpayv3`` SDK's ``WeChatPay.callback()`` (verify + decrypt) on
  Starlette, answering 204, with **no database at all**: the ceiling of a handler that stores nothing;
- ``ceiling``: a bare ASGI app that reads the body and answers 204: what the server stack itself allows.

At the end, ``notify_floor`` measures in this process the least a durable handler must spend per
notification (RSA verify, AES-GCM + JSON, the engine's own ledger statements replayed alone); with the
ceiling's CPU per request, that bounds the ratio any handler on this stack can reach.

After each engine run, every distinct notification that was certainly acknowledged (each thread's
requests up to its last ``connections/threads`` still in flight when wrk stopped) must be PAID in the
ledger, with exactly one inbox row and one status event per paid order; any non-2xx answer or socket
error fails the run. Prints, per round and as medians over the rounds: acknowledged notifications/s,
p50/p99 (wrk's), CPU ms per notification (server processes, all threads), and the engine/reference
ratio at the same process count. Rounds alternate the servers; the machine may be shared (the load
average is printed): quote medians and ratios.

    .venv/bin/python tests/bench/bench_notify.py [--rounds 3] [--workers 2] [--no-postgres]

PostgreSQL: ``POS_TEST_PG_URL`` if set, else a throwaway cluster (as scripts/test starts, but with
fsync on) when Debian's postgresql is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pos_app.config import Settings, load_settings  # noqa: E402
from pos_app.sandbox.demo import free_loopback_port, init_demo_profile  # noqa: E402
from tests.bench import notify_floor  # noqa: E402
from tests.wechat_notifications import SignedNotification, WechatNotifier, seed_native_orders  # noqa: E402

LUA = Path(__file__).with_name("notify_load.lua")
AMOUNT_FEN = 1234
#: One duplicate per this many distinct notifications.
DUPLICATE_EVERY = 10
REFERENCE_PROFILE_ENV = "_POS_BENCH_REFERENCE_PROFILE"
SERVER_OPTIONS: dict[str, Any] = {"log_level": "warning", "access_log": False, "proxy_headers": False}


# --- the reference server: the SDK's callback(), no database ------------------------------------


def reference_app() -> Any:
    """(In each reference worker.) ``WeChatPay.callback`` on Starlette; nothing stored."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from wechatpayv3 import WeChatPay, WeChatPayType

    settings = load_settings(Path(os.environ[REFERENCE_PROFILE_ENV]) / "pos.toml")
    wx = settings.wechatpay
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=wx.mchid,
        private_key=settings.path(wx.merchant_private_key).read_text(),
        cert_serial_no=wx.merchant_serial_no,
        appid=wx.appid,
        apiv3_key=settings.path(wx.apiv3_key_file).read_text().strip(),
        notify_url=settings.engine.public_url + "/notify/wechatpay",
        public_key=settings.path(wx.platform_public_key or Path("x")).read_text(),
        public_key_id=wx.platform_public_key_id,
    )

    async def notify(request: Request) -> Response:
        body = await request.body()
        try:
            result = pay.callback(dict(request.headers), body)
        except Exception:
            result = None
        if not result or not isinstance(result.get("resource"), dict):
            return JSONResponse({"code": "FAIL", "message": "失败"}, status_code=400)
        return Response(status_code=204)

    return Starlette(routes=[Route("/notify/wechatpay", notify, methods=["POST"])])


def ceiling_app() -> Any:
    """(In each ceiling worker.) Reads the body and answers 204: what the server stack alone allows."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def serve_reference(profile: Path, port: int, workers: int, app: str = "reference") -> None:
    import uvicorn

    os.environ[REFERENCE_PROFILE_ENV] = str(profile)
    uvicorn.run(
        f"tests.bench.bench_notify:{app}_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        **SERVER_OPTIONS,
    )


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Load:
    """One round's requests: per wrk thread, the out_trade_no of each request in the order sent."""

    directory: Path
    per_thread: list[list[str]]
    orders: list[str]


def build_load(settings: Settings, directory: Path, distinct: int, threads: int, round_no: int) -> Load:
    """``distinct`` notifications for as many new orders, split over the threads, plus duplicates."""
    directory.mkdir(parents=True)
    notifier = WechatNotifier(settings)
    stamp = datetime.now().strftime("%y%m%d%H%M%S")
    orders = [f"P{stamp}S00001T{round_no % 1000:03d}{i:08d}" for i in range(1, distinct + 1)]
    rng = random.Random(round_no)
    per_thread: list[list[str]] = []
    host = "127.0.0.1"
    for t in range(threads):
        mine: list[SignedNotification] = []
        sequence: list[SignedNotification] = []
        for otn in orders[t::threads]:
            item = notifier.paid(otn, AMOUNT_FEN)
            mine.append(item)
            sequence.append(item)
            if len(mine) % DUPLICATE_EVERY == 0:
                sequence.append(rng.choice(mine))
        with (directory / f"requests-{t}.bin").open("wb") as out:
            for item in sequence:
                raw = item.raw_request(host)
                out.write(b"%d\n" % len(raw) + raw)
        per_thread.append([item.out_trade_no for item in sequence])
    return Load(directory, per_thread, orders)


@dataclass
class Run:
    name: str
    workers: int
    rate: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    acked: int
    distinct_paid: int


def run_wrk(url: str, load: Load, args: argparse.Namespace) -> dict[str, Any]:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "10s"]
    done = subprocess.run(
        [*command, "-s", str(LUA), url, "--", str(load.directory)], capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            result: dict[str, Any] = json.loads(line[len("BENCH ") :])
            return result
    raise RuntimeError(f"wrk printed no result: {done.stdout[-2000:]} {done.stderr[-2000:]}")


def warm_up(url: str) -> None:
    """One second of GETs over many connections: every worker has started and served (a cold worker
    would otherwise count its first requests in the measurement)."""
    subprocess.run(["wrk", "-t1", "-c16", "-d1s", url], capture_output=True, check=False)


def certainly_acked(load: Load, issued: dict[str, int], in_flight: int) -> set[str]:
    """The orders whose notification was answered for sure: each thread's requests but the last
    ``in_flight`` it issued (those may have been cut off when wrk stopped)."""
    acked: set[str] = set()
    for t, sequence in enumerate(load.per_thread):
        answered = issued.get(str(t), 0) - in_flight
        if answered >= len(sequence):
            acked.update(sequence)
        elif answered > 0:
            acked.update(sequence[:answered])
    return acked


# --- processes ---------------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (all threads), from /proc."""
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    pids += [int(c) for c in (task / "children").read_text().split()]
    return total


def wait_answering(url: str, process: subprocess.Popen[bytes], log: Path, method: str = "GET") -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            response = httpx.request(method, url, content=b"{}" if method == "POST" else None, timeout=1)
            if method == "POST" or response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_engine(
    profile: Path, settings: Settings, load: Load, database_url: str, workers: int, name: str, args: argparse.Namespace
) -> Run:
    port = free_loopback_port()
    env = {
        **os.environ,
        "POS_HOME": str(profile),
        "POS_ENGINE__LISTEN": f"127.0.0.1:{port}",
        "POS_ENGINE__WORKERS": str(workers),
        "POS_ENGINE__DATABASE_URL": database_url,
        "POS_ENGINE__RESOLVER_INTERVAL_S": "3600",  # one pass at start (empty ledger), none during the run
        "POS_ENGINE__RECONCILE_AT": "23:59:59",  # no reconciliation during the run
        "PYTHONPATH": str(ROOT),
    }
    log = args.work / f"{name}.log"
    base = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "pos_app", "engine", "serve", "--log-level", "warning"], env, log) as process:
        wait_answering(f"{base}/readyz", process, log)
        from pos_app.engine.store.db import make_engine

        ledger = make_engine(database_url)
        try:
            if workers > 1:
                _wait_scheduler(ledger)
            warm_up(f"{base}/healthz")
            seed_native_orders(ledger, load.orders, AMOUNT_FEN)
            before = tree_cpu_seconds(process.pid)
            result = run_wrk(f"{base}/notify/wechatpay", load, args)
            cpu = tree_cpu_seconds(process.pid) - before
        except BaseException:
            ledger.dispose()
            raise
    try:  # the engine has stopped: the ledger holds what it acknowledged, nothing is still committing
        paid = _check_ledger(ledger, load, result, args, name)
    finally:
        ledger.dispose()
    return _run(name, workers, result, cpu, paid)


def _wait_scheduler(ledger: Any) -> None:
    """Several workers: wait until one took the scheduler (its resolver's first pass then ran on the
    empty ledger: the seeded orders must not be settled by it during the run)."""
    from sqlalchemy import text

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), ledger.connect() as conn:
            if conn.execute(text("SELECT COUNT(*) FROM engine_leases")).scalar():
                time.sleep(1.0)  # the holder's first resolver pass (an empty ledger: milliseconds)
                return
        time.sleep(0.1)
    raise RuntimeError("no worker took the scheduler lease")


def _check_ledger(ledger: Any, load: Load, result: dict[str, Any], args: argparse.Namespace, name: str) -> int:
    """Every certainly-acknowledged notification's order is PAID; one inbox row and one status event
    per paid order; no refusal or socket error. Returns the number of PAID orders."""
    from sqlalchemy import bindparam, text

    _check_errors(result, name)
    acked = certainly_acked(load, result["issued"], args.connections // args.threads)
    with ledger.connect() as conn:
        paid = {row[0] for row in conn.execute(text("SELECT out_trade_no FROM payments WHERE state = 'PAID'"))}
        inbox = conn.execute(text("SELECT COUNT(*), COUNT(applied_at) FROM notification_inbox")).one()
        events = conn.execute(text("SELECT COUNT(*) FROM status_events")).scalar()
        missing = sorted(acked - paid)
        if missing:
            detail = [
                tuple(row)
                for row in conn.execute(
                    text("SELECT out_trade_no, state, version FROM payments WHERE out_trade_no IN :otns").bindparams(
                        bindparam("otns", expanding=True)
                    ),
                    {"otns": missing[:3]},
                )
            ]
            inbox_rows = [
                tuple(row)
                for row in conn.execute(
                    text(
                        "SELECT out_trade_no, outcome, applied_at FROM notification_inbox WHERE out_trade_no IN :otns"
                    ).bindparams(bindparam("otns", expanding=True)),
                    {"otns": missing[:3]},
                )
            ]
            raise AssertionError(f"{name}: {len(missing)} acknowledged notifications not PAID: {detail} {inbox_rows}")
    assert tuple(inbox) == (len(paid), len(paid)), f"{name}: inbox (rows, applied) {tuple(inbox)}, {len(paid)} PAID"
    assert events == len(paid), f"{name}: {events} status events for {len(paid)} PAID orders"
    return len(paid)


def _check_errors(result: dict[str, Any], name: str) -> None:
    errors = {k: result[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")}
    assert not any(errors.values()), f"{name}: {errors}"


def run_reference(
    profile: Path, load: Load, workers: int, name: str, args: argparse.Namespace, app: str = "reference"
) -> Run:
    port = free_loopback_port()
    log = args.work / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, __file__, "--reference", str(profile), str(port), str(workers), "--app", app]
    with running(argv, env, log) as process:
        url = f"http://127.0.0.1:{port}/notify/wechatpay"
        wait_answering(url, process, log, method="POST")
        warm_up(url.replace("/notify/wechatpay", "/"))
        before = tree_cpu_seconds(process.pid)
        result = run_wrk(url, load, args)
        cpu = tree_cpu_seconds(process.pid) - before
    _check_errors(result, name)
    return _run(name, workers, result, cpu, 0)


def _run(name: str, workers: int, result: dict[str, Any], cpu: float, paid: int) -> Run:
    requests = int(result["requests"])
    return Run(
        name=name,
        workers=workers,
        rate=requests / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        cpu_ms=1000 * cpu / max(requests, 1),
        acked=requests,
        distinct_paid=paid,
    )


# --- PostgreSQL --------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server(work: Path) -> Iterator[str | None]:
    """A PostgreSQL URL: POS_TEST_PG_URL, or a throwaway cluster with fsync on; None if neither."""
    url = os.environ.get("POS_TEST_PG_URL")
    if url:
        yield url
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        yield None
        return
    pg_bin = bins[-1].parent
    data = Path(tempfile.mkdtemp(prefix="pos-bench-pg-"))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_loopback_port()
    subprocess.run(
        [*as_pg, str(pg_bin / "initdb"), "-D", f"{data}/data", "-U", "pos", "--auth=trust", "-E", "UTF8"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=200 -c fsync=on"
    subprocess.run(
        [*as_pg, str(pg_bin / "pg_ctl"), "-D", f"{data}/data", "-l", f"{data}/log", "-w", "-o", options, "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql+psycopg://pos@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_pg, str(pg_bin / "pg_ctl"), "-D", f"{data}/data", "-m", "immediate", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


def fresh_database(server_url: str, name: str) -> str:
    import psycopg

    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


# --- main --------------------------------------------------------------------------------------


def stack_description() -> str:
    parts = []
    for module, label in (("uvloop", "loop"), ("httptools", "http")):
        try:
            __import__(module)
            parts.append(f"{label} {module}")
        except ImportError:
            parts.append(f"{label} {'asyncio' if label == 'loop' else 'h11'}")
    return "uvicorn, " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="the 'all workers' figure")
    parser.add_argument("--distinct", type=int, default=50_000, help="distinct notifications per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per run")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument(
        "--only", nargs="+", choices=("engine", "reference", "ceiling", "engine-pg"), help="run only these servers"
    )
    parser.add_argument("--reference", nargs=3, metavar=("PROFILE", "PORT", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--app", default="reference", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        profile, port, workers = args.reference
        serve_reference(Path(profile), int(port), int(workers), args.app)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up (servers, PostgreSQL) when stopped
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    args.work = Path(tempfile.mkdtemp(prefix="pos-bench-notify-"))
    profile = init_demo_profile(args.work / "home").home
    settings = load_settings(profile / "pos.toml")
    socket.setdefaulttimeout(None)
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s; {args.distinct} distinct notifications "
        f"+ 1 duplicate per {DUPLICATE_EVERY} per round; {stack_description()}; {os.cpu_count()} CPUs"
    )
    runs: list[Run] = []
    with postgres_server(args.work) as pg_url:
        for round_no in range(1, args.rounds + 1):
            load_avg = os.getloadavg()[0]
            started = time.monotonic()
            load = build_load(settings, args.work / f"round-{round_no}", args.distinct, args.threads, round_no)
            print(
                f"round {round_no}: load average {load_avg:.2f}; requests built in {time.monotonic() - started:.0f} s"
            )
            plan: list[tuple[str, int]] = []
            for workers in sorted({1, args.workers}):
                pair = [("engine", workers), ("reference", workers)]
                plan += pair if round_no % 2 else pair[::-1]  # alternate who goes first
                plan.append(("ceiling", workers))
            if args.postgres and pg_url:
                plan.append(("engine-pg", 2))
            for kind, workers in plan:
                if args.only and kind not in args.only:
                    continue
                name = f"r{round_no}-{kind}-{workers}w"
                if kind in ("reference", "ceiling"):
                    run = run_reference(profile, load, workers, name, args, app=kind)
                elif kind == "engine":
                    url = f"sqlite:///{args.work / (name + '.sqlite3')}"
                    run = run_engine(profile, settings, load, url, workers, name, args)
                else:
                    assert pg_url is not None
                    url = fresh_database(pg_url, name.replace("-", "_"))
                    run = run_engine(profile, settings, load, url, workers, name, args)
                run.name = kind
                runs.append(run)
                print(
                    f"  {kind:<10} {workers}w {run.rate:8.0f} notif/s  p50 {run.p50_ms:6.1f} ms"
                    f"  p99 {run.p99_ms:6.1f} ms  CPU {run.cpu_ms:5.2f} ms/notif"
                    f"  ({run.acked} acked, {run.distinct_paid or '-'} distinct PAID)"
                )
            shutil.rmtree(load.directory, ignore_errors=True)
    report(runs, args, notify_floor.measure(settings))


def report(runs: list[Run], args: argparse.Namespace, floor: notify_floor.Floor) -> None:
    print(f"\nmedians over {args.rounds} round(s):")
    medians: dict[tuple[str, int], dict[str, float]] = {}
    for key in sorted({(r.name, r.workers) for r in runs}):
        mine = [r for r in runs if (r.name, r.workers) == key]
        medians[key] = {
            field: statistics.median(getattr(r, field) for r in mine)
            for field in ("rate", "p50_ms", "p99_ms", "cpu_ms")
        }
        m = medians[key]
        print(
            f"  {key[0]:<10} {key[1]}w {m['rate']:8.0f} notif/s  p50 {m['p50_ms']:6.1f} ms  p99 {m['p99_ms']:6.1f} ms"
            f"  CPU {m['cpu_ms']:5.2f} ms/notif"
        )
    for workers in sorted({w for name, w in medians if name == "engine"}):
        if ("reference", workers) in medians:
            ratios = [
                e.rate / r.rate
                for e, r in zip(
                    [x for x in runs if (x.name, x.workers) == ("engine", workers)],
                    [x for x in runs if (x.name, x.workers) == ("reference", workers)],
                    strict=True,
                )
            ]
            print(
                f"  ratio engine/reference, {workers} process(es): median {statistics.median(ratios):.2f}x "
                f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)}; target >= 1.5x)"
            )
    best = max((m["rate"] for (name, _), m in medians.items() if name == "engine"), default=0.0)
    print(f"  engine, all workers, against the 18,500/s anchor: {best / 18_500:.2f}x  [work dir {args.work}]")
    report_floor(medians, floor)


def report_floor(medians: dict[tuple[str, int], dict[str, float]], floor: notify_floor.Floor) -> None:
    """What a durable handler costs at the least on this stack, and the ratio that leaves at most."""
    print("\nthe least a durable notification costs here (CPU per notification, medians, in this process):")
    print(
        f"  RSA-2048 verify {floor.rsa_us:.1f} us + AES-GCM and both JSON layers {floor.aes_json_us:.1f} us"
        f" + the engine's own ledger statements and commit, replayed alone, {floor.sql_us:.1f} us"
        f" = {floor.crypto_sql_us:.1f} us"
    )
    print(
        f"  (the engine's whole parse_notification {floor.whole_parse_us:.1f} us,"
        f" its whole apply of a batch {floor.whole_apply_us:.1f} us)"
    )
    ceiling = medians.get(("ceiling", 1))
    reference = medians.get(("reference", 1))
    if ceiling and reference:
        stack_us = ceiling["cpu_ms"] * 1000
        least = stack_us + floor.crypto_sql_us
        bound = 1e6 / least
        print(
            f"  + the server stack answering an empty 204 ({ceiling['rate']:.0f}/s, {stack_us:.1f} us CPU per request)"
            f" = {least:.1f} us: one process doing nothing else would reach at most ~{bound:.0f}/s,"
            f" {bound / reference['rate']:.2f}x the reference's {reference['rate']:.0f}/s"
        )


if __name__ == "__main__":
    main()
