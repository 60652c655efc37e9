"""Real processes on loopback: `pos sandbox serve` + `pos engine serve` from a demo profile (POS_HOME).

The engine is SIGKILLed while a micropay waits for the customer's password (USER_PAYING), then
restarted: its resolver settles the payment from the ledger alone, and the final state equals what
the gateway (the sandbox) says, with the customer charged once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from pos_app.config import Settings, load_settings
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState, is_settled
from pos_app.engine.client import EngineClient
from pos_app.engine.providers import build_providers
from pos_app.engine.schemas import CreatePayment, PaymentView
from pos_app.sandbox.demo import init_demo_profile

pytestmark = pytest.mark.slow

POS = [sys.executable, "-m", "pos_app"]


class Processes:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "POS_HOME": str(home),
            "POS_ENGINE__RESOLVER_INTERVAL_S": "0.5",
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
    channel = "wechat"
    processes, settings = procs
    engine_url = settings.terminal.engine_url
    code = processes.run("engine", "activation-code", "--store", "S00001", "--terminal", "T001")
    auth_code = processes.run("sandbox", "authcode", channel, "--password", "4")
    out_trade_no = make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=1, at=datetime.now())

    async with EngineClient(engine_url, "T001", None) as client:
        await client.activate(code, "S00001", "T001", "Till 1")
        request = CreatePayment(
            out_trade_no=out_trade_no, amount_fen=4321, mode=PaymentMode.MICROPAY, auth_code=auth_code,
            subject="Crash test", operator="alice",
        )  # fmt: skip
        view = await client.create_payment(request)
        assert view.state is PaymentState.USER_PAYING, view

        processes.kill("engine")  # mid-payment: the customer is still typing the password
        assert not await client.healthz()
        await asyncio.sleep(1.0)
        processes.start("engine", "engine", "serve", health_url=f"{engine_url}/healthz")

        # The killed process held the settling lease until the WeChat deadline (45 s) + 30 s; after
        # that the restarted engine's resolver takes the payment over.
        final = await _wait_state(client, out_trade_no, timeout=120)
        events = [e async for e in _take(client.events(0), until=out_trade_no)]

    # The gateway's own record (asked directly, not through the engine's ledger).
    providers = build_providers(settings)
    try:
        truth = await providers[final.channel].query(out_trade_no)
    finally:
        for provider in providers.values():
            await provider.aclose()
    assert final.state is PaymentState.PAID, final
    assert truth.state is PaymentState.PAID
    assert truth.amount_fen == final.amount_fen == 4321
    assert final.transaction_id == truth.transaction_id
    assert events[-1].payment.state is PaymentState.PAID
    # Charged once: the one-use payment code was used by exactly this order.
    with sqlite3.connect(settings.path(settings.sandbox.state_path)) as db:
        used_by = db.execute("SELECT used_by FROM auth_codes WHERE code = ?", (auth_code,)).fetchall()
    assert [row[0] for row in used_by] == [out_trade_no]


async def _take(stream, *, until: str):  # type: ignore[no-untyped-def]
    """Events up to the first settled one for ``until`` (the SSE stream never ends on its own)."""
    async with asyncio.timeout(20):
        async for event in stream:
            yield event
            if event.payment.out_trade_no == until and is_settled(event.payment.state):
                return
