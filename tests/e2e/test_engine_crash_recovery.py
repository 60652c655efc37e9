"""Real processes on loopback: `pos sandbox serve` + `pos engine serve` from a demo profile (POS_HOME).

The engine is SIGKILLed while a WeChat and an Alipay micropay wait for the customers' passwords
(USER_PAYING), then restarted: its resolver takes both over once the dead process's short settling
lease lapses (it is renewed only while the holder lives) and settles them from the ledger alone; the
final states equal what the gateways (the sandbox) say, each customer charged once. The engine runs
with short lease timings (LEASE_S, LEASE_RENEW_S) so that the test waits fractions of a second for
the renewal and the lapse, not the production defaults (10 s / 3 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment, PaymentView
from pos_app.config import Settings, load_settings
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState, is_settled
from pos_app.engine.providers import build_providers
from pos_app.sandbox.demo import init_demo_profile

pytestmark = pytest.mark.slow

POS = [sys.executable, "-m", "pos_app"]
#: The engine's settling lease and its renewal interval in this test (production: 10 s and 3 s).
LEASE_S = 2.0
LEASE_RENEW_S = 0.5
#: The customers finish their passwords this long after the scan: after the kill.
PASSWORD_S = 4


class Processes:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "POS_HOME": str(home),
            "POS_ENGINE__RESOLVER_INTERVAL_S": "0.5",
            "POS_ENGINE__LEASE_S": str(LEASE_S),
            "POS_ENGINE__LEASE_RENEW_S": str(LEASE_RENEW_S),
            "PYTHONUNBUFFERED": "1",
        }
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, *args: str) -> str:
        done = subprocess.run([*POS, *args], env=self.env, capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode().strip()

    def start(self, name: str, *args: str, health_url: str) -> None:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.running[name] = subprocess.Popen([*POS, *args], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.running[name].poll() is not None:
                raise AssertionError(f"{name} exited: {(self.home / f'{name}.log').read_text()[-2000:]}")
            try:
                if httpx.get(health_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} did not become healthy")

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.running):
            process = self.running.pop(name)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[tuple[Processes, Settings]]:
    profile = init_demo_profile(tmp_path / "home")
    settings = load_settings(profile.config)
    processes = Processes(profile.home)
    try:
        processes.start("sandbox", "sandbox", "serve", health_url=f"http://{settings.sandbox.listen}/healthz")
        processes.start("engine", "engine", "serve", health_url=f"{settings.terminal.engine_url}/healthz")
        yield processes, settings
    finally:
        processes.stop_all()


async def _wait_state(client: EngineClient, out_trade_no: str, timeout: float) -> PaymentView:
    deadline = time.monotonic() + timeout
    while True:
        view = await client.get_payment(out_trade_no)
        if is_settled(view.state) or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.2)


async def test_engine_killed_while_user_paying_settles_after_restart(procs: tuple[Processes, Settings]) -> None:
    """One WeChat and one Alipay micropay in flight; the engine is SIGKILLed; the restarted engine's
    resolver takes both over as soon as the dead process's settling lease lapses (LEASE_S, no longer
    renewed), well before the micropay deadlines (45 s / 60 s)."""
    processes, settings = procs
    engine_url = settings.terminal.engine_url
    ledger_path = settings.database_url.removeprefix("sqlite:///")
    code = processes.run("engine", "activation-code", "--store", "S00001", "--terminal", "T001")
    channels = ("wechat", "alipay")
    # The customers finish their passwords after the engine was killed.
    auth_codes = {c: processes.run("sandbox", "authcode", c, "--password", str(PASSWORD_S)) for c in channels}
    trade_nos = {
        c: make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=i, at=datetime.now())
        for i, c in enumerate(channels, start=1)
    }
    amounts = {"wechat": 4321, "alipay": 5678}

    async with EngineClient(engine_url, "T001", None) as client:
        await client.activate(code, "S00001", "T001", "Till 1")
        for channel in channels:
            request = CreatePayment(
                out_trade_no=trade_nos[channel], amount_fen=amounts[channel], mode=PaymentMode.MICROPAY,
                auth_code=auth_codes[channel], subject="Crash test", operator="alice",
            )  # fmt: skip
            view = await client.create_payment(request)
            assert view.state is PaymentState.USER_PAYING, view
        leases = _leases(ledger_path, trade_nos.values())
        # While the engine lives it renews its leases (every LEASE_RENEW_S, each time for LEASE_S).
        await asyncio.sleep(LEASE_RENEW_S * 2.5)
        renewed = _leases(ledger_path, trade_nos.values())
        for otn in trade_nos.values():
            assert leases[otn][1] == renewed[otn][1] is not None  # the same owner
            assert renewed[otn][0] > leases[otn][0], (leases, renewed)
            # The injected timings are in force: a renewal reaches at most LEASE_S ahead.
            until = renewed[otn][0]
            assert until is not None
            ahead = datetime.fromisoformat(until).replace(tzinfo=UTC) - datetime.now(UTC)
            assert ahead.total_seconds() <= LEASE_S + 0.5, ahead

        processes.kill("engine")  # mid-payment: the customers are still typing their passwords
        killed_at = time.monotonic()
        assert not await client.healthz()
        processes.start("engine", "engine", "serve", health_url=f"{engine_url}/healthz")

        finals = {c: await _wait_state(client, trade_nos[c], timeout=40) for c in channels}
        took = time.monotonic() - killed_at
        events = [e async for e in _take(client.events(0), until=set(trade_nos.values()))]

    # Taken over by the restarted engine's resolver within the lease (+ restart, resolver interval,
    # a loaded machine), not at the deadline (45 s / 60 s after the scan) the old lease ran to.
    assert took < 30, f"settled {took:.1f} s after the kill"
    # The gateways' own records (asked directly, not through the engine's ledger).
    providers = build_providers(settings)
    try:
        truths = {c: await providers[finals[c].channel].query(trade_nos[c]) for c in channels}
    finally:
        for provider in providers.values():
            await provider.aclose()
    for channel in channels:
        final, truth = finals[channel], truths[channel]
        assert final.state is PaymentState.PAID, final
        assert truth.state is PaymentState.PAID
        assert truth.amount_fen == final.amount_fen == amounts[channel]
        assert final.transaction_id == truth.transaction_id
        last = [e for e in events if e.payment.out_trade_no == trade_nos[channel]][-1]
        assert last.payment.state is PaymentState.PAID
    # Charged once: each one-use payment code was used by exactly its order.
    with sqlite3.connect(settings.path(settings.sandbox.state_path)) as db:
        for channel in channels:
            used_by = db.execute("SELECT used_by FROM auth_codes WHERE code = ?", (auth_codes[channel],)).fetchall()
            assert [row[0] for row in used_by] == [trade_nos[channel]]
    # Settled: nobody holds a lease any more.
    assert all(until is None for until, _owner in _leases(ledger_path, trade_nos.values()).values())


def _leases(ledger_path: str, trade_nos: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
    """(lease_until, lease_owner) of each payment, read straight from the engine's SQLite ledger."""
    with sqlite3.connect(ledger_path) as db:
        return {
            otn: db.execute("SELECT lease_until, lease_owner FROM payments WHERE out_trade_no = ?", (otn,)).fetchone()
            for otn in trade_nos
        }


async def _take(stream, *, until: set[str]):  # type: ignore[no-untyped-def]
    """Events up to a settled one for each of ``until`` (the SSE stream never ends on its own)."""
    waiting = set(until)
    async with asyncio.timeout(20):
        async for event in stream:
            yield event
            if is_settled(event.payment.state):
                waiting.discard(event.payment.out_trade_no)
            if not waiting:
                return
