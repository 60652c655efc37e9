"""`[engine] workers = 2`: real worker processes on one port, a real SQLite ledger, real sockets.

Which worker accepts a connection is the kernel's choice; a kept-alive connection then stays with
that worker. To send requests to one worker in particular, the test opens connections until that
worker accepted one (read from /proc: which worker process holds the connection's socket).

The engine runs with short lease timings (LEASE_S, LEASE_RENEW_S; production: 10 s and 3 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pos_app.api.client import EngineClient
from pos_app.api.schemas import PaymentEvent
from pos_app.config import Settings, load_settings
from pos_app.domain.states import PaymentState
from pos_app.engine.store.db import make_engine
from pos_app.sandbox.demo import init_demo_profile
from tests.wechat_notifications import SignedNotification, WechatNotifier, seed_native_orders

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
POS = [sys.executable, "-m", "pos_app"]
LEASE_S = 2.0
LEASE_RENEW_S = 0.5
AMOUNT = 1888


class Workers:
    """`pos engine serve` with two workers, and what the test needs to reach each of them."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.settings: Settings = load_settings(home / "pos.toml")
        self.url = self.settings.terminal.engine_url
        self.ledger_path = self.settings.database_url.removeprefix("sqlite:///")
        self.env = {
            **os.environ,
            "POS_HOME": str(home),
            "POS_ENGINE__WORKERS": "2",
            "POS_ENGINE__LEASE_S": str(LEASE_S),
            "POS_ENGINE__LEASE_RENEW_S": str(LEASE_RENEW_S),
            "POS_ENGINE__RESOLVER_INTERVAL_S": "3600",  # one pass when a worker takes the scheduler
            "PYTHONUNBUFFERED": "1",
        }
        self.log = home / "engine.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([*POS, "engine", "serve"], env=self.env, stdout=log, stderr=log, cwd=REPO)
        deadline = time.monotonic() + 90  # generous: a loaded CI machine imports slowly
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            if len(self.pids()) == 2 and self.scheduler_lines() == 1 and self.lease() is not None and self._ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"two workers did not come up: {self.log.read_text()[-3000:]}")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def pids(self) -> list[int]:
        """The worker processes (children of the supervisor running the engine)."""
        assert self.process is not None
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                children += [int(c) for c in (task / "children").read_text().split()]
        workers = []
        for pid in children:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    workers.append(pid)
        return sorted(workers)

    def lease(self) -> tuple[int, datetime] | None:
        """(pid of the worker holding the scheduler lease, until when), if a worker holds it."""
        if not Path(self.ledger_path).exists():
            return None
        with contextlib.closing(sqlite3.connect(self.ledger_path, timeout=5)) as db:
            try:
                row = db.execute("SELECT owner, lease_until FROM engine_leases WHERE name = 'scheduler'").fetchone()
            except sqlite3.OperationalError:  # not migrated yet
                return None
        if row is None:
            return None
        until = datetime.fromisoformat(row[1]).replace(tzinfo=UTC)
        return (int(row[0].split("-", 1)[0]), until) if until > datetime.now(UTC) else None

    def connection_to(self, pid: int, tries: int = 300) -> http.client.HTTPConnection:
        """A kept-alive connection that worker ``pid`` accepted (the others opened meanwhile are closed)."""
        url = httpx.URL(self.url)
        for _ in range(tries):
            connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() == b'{"status":"ok"}'
            if self._worker_holding(url.port or 80, connection.sock.getsockname()[1]) == pid:
                return connection
            connection.close()
        raise AssertionError(f"worker {pid} accepted none of {tries} connections")

    def _worker_holding(self, server_port: int, client_port: int) -> int | None:
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
            if (local, remote) == (server_port, client_port):
                inodes.add(f"socket:[{fields[9]}]")
        for pid in self.pids():
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir()):
                    return pid
        return None

    def scheduler_lines(self) -> int:
        return self.log.read_text(errors="replace").count("this worker runs the scheduled jobs")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    profile = init_demo_profile(tmp_path / "home")
    engine = Workers(profile.home)
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()


def _paid_orders(engine: Workers, orders: list[str]) -> None:
    ledger = make_engine(engine.settings.database_url)
    try:
        seed_native_orders(ledger, orders, AMOUNT)
    finally:
        ledger.dispose()


def _notify(connection: http.client.HTTPConnection, notification: SignedNotification) -> int:
    """POST the notification on ``connection``; returns the status."""
    connection.request("POST", "/notify/wechatpay", body=notification.body, headers=notification.headers)
    response = connection.getresponse()
    response.read()
    return response.status


def test_two_workers_on_one_port_both_answer(workers: Workers) -> None:
    for pid in workers.pids():
        connection = workers.connection_to(pid)
        try:
            connection.request("GET", "/readyz")
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    assert workers.scheduler_lines() == 1  # the scheduled jobs run in exactly one of them


def test_a_notification_acknowledged_by_either_worker_is_durable_and_deduplicated(workers: Workers) -> None:
    first, second = (workers.connection_to(pid) for pid in workers.pids())
    orders = ["P261206120000S00001T00100000001", "P261206120000S00001T00100000002"]
    _paid_orders(workers, orders)
    notifier = WechatNotifier(workers.settings)
    one, two = (notifier.paid(otn, AMOUNT) for otn in orders)

    assert _notify(first, one) == 204
    assert _notify(second, two) == 204
    # Acknowledged after the commit: the rows are in the ledger file now.
    with contextlib.closing(sqlite3.connect(workers.ledger_path)) as db:
        states = dict(db.execute("SELECT out_trade_no, state FROM payments").fetchall())
    assert states == {otn: PaymentState.PAID.value for otn in orders}

    # The gateway sends both again, each to the other worker: acknowledged, nothing changes.
    assert _notify(second, one) == 204
    assert _notify(first, two) == 204
    first.close()
    second.close()
    with contextlib.closing(sqlite3.connect(workers.ledger_path)) as db:
        inbox = db.execute("SELECT event_id, outcome, applied_at IS NOT NULL FROM notification_inbox").fetchall()
        events = db.execute("SELECT out_trade_no FROM status_events ORDER BY id").fetchall()
        versions = dict(db.execute("SELECT out_trade_no, version FROM payments").fetchall())
    assert sorted(inbox) == sorted([(one.event_id, "PAID", 1), (two.event_id, "PAID", 1)])
    assert sorted(e[0] for e in events) == orders  # one status event per payment: the duplicates changed nothing
    assert versions == dict.fromkeys(orders, 2)


def test_killing_the_scheduler_worker_hands_the_jobs_to_another_within_the_lease(workers: Workers) -> None:
    held = workers.lease()
    assert held is not None
    holder, _ = held
    assert holder in workers.pids()
    assert workers.scheduler_lines() == 1

    os.kill(holder, signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + LEASE_S + LEASE_RENEW_S + 10  # generous for a loaded machine; measured below
    taken: tuple[int, datetime] | None = None
    while time.monotonic() < deadline:
        taken = workers.lease()
        if taken is not None and taken[0] != holder:
            break
        time.sleep(0.05)
    took = time.monotonic() - killed_at
    assert taken is not None and taken[0] != holder, f"no worker took the scheduler over in {took:.1f} s"
    # The lease lapses LEASE_S after the dead worker's last renewal; a living worker tries every LEASE_RENEW_S.
    assert took <= LEASE_S + 2 * LEASE_RENEW_S + 1.5, f"the scheduler was taken over after {took:.1f} s"
    assert taken[0] in workers.pids()
    deadline = time.monotonic() + 5
    while workers.scheduler_lines() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers.scheduler_lines() == 2  # one worker started the jobs again, and only one


async def test_a_tills_event_stream_sees_changes_handled_by_either_worker(workers: Workers) -> None:
    """The till's stream is served by one worker; each payment's callback is handled by a different
    worker: both changes reach the stream."""
    code = subprocess.run(
        [*POS, "engine", "activation-code", "--store", "S00001", "--terminal", "T001"],
        env=workers.env, capture_output=True, check=True, timeout=60,
    ).stdout.decode().strip()  # fmt: skip
    orders = ["P261206130000S00001T00100000003", "P261206130000S00001T00100000004"]
    _paid_orders(workers, orders)
    notifier = WechatNotifier(workers.settings)
    first, second = workers.pids()
    async with EngineClient(workers.url, "T001", None) as client:
        await client.activate(code, "S00001", "T001", "Till 1")
        seen: dict[str, PaymentState] = {}

        async def listen() -> None:
            async for event in client.events(0, reconnect_delay_s=0.1, max_reconnect_delay_s=0.5):
                _record(seen, event)
                if all(seen.get(otn) is PaymentState.PAID for otn in orders):
                    return

        stream = asyncio.create_task(listen())
        for pid, otn in zip((first, second), orders, strict=True):
            connection = await asyncio.to_thread(workers.connection_to, pid)
            try:
                assert await asyncio.to_thread(_notify, connection, notifier.paid(otn, AMOUNT)) == 204
            finally:
                connection.close()
        await asyncio.wait_for(stream, timeout=10)
    assert seen == dict.fromkeys(orders, PaymentState.PAID)


def _record(seen: dict[str, PaymentState], event: PaymentEvent) -> None:
    seen[event.payment.out_trade_no] = event.payment.state
