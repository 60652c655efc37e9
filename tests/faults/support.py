"""Real processes from one demo profile (POS_HOME) and the checks every fault round ends with.

The stack: `python -m pos_app sandbox serve`, `python -m pos_app engine serve` and the headless
terminal `python -m tests.faults.terminal_driver`, each a child process that can be SIGKILLed.

:func:`check_books` is the whole proof after a round. It reads each party's own records:
the terminal journal (SQLite), the engine (its HTTP API: payments and the journal-vs-ledger
comparison, plus the synced events in its ledger database) and the sandbox gateways (their state
database: what each customer was actually charged and refunded).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from pos_app import journal
from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient, PaymentNotFound
from pos_app.commands.terminal import activate, seed_demo_staff
from pos_app.config import Settings, load_settings
from pos_app.domain.states import SETTLED_STATES, PaymentState, RefundState
from pos_app.engine.sync_compare import COLLECTED_STATES, TerminalDayComparison
from pos_app.journal.verify import verify_chain
from pos_app.sandbox.demo import init_demo_profile

REPO = Path(__file__).resolve().parents[2]
POS = [sys.executable, "-m", "pos_app"]
DRIVER = [sys.executable, "-m", "tests.faults.terminal_driver"]


class Stack:
    """The three processes of one profile; start, SIGKILL and restart them by name."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.settings = load_settings(home / "pos.toml")
        self.env = {
            **os.environ,
            "POS_HOME": str(home),
            "POS_ENGINE__RESOLVER_INTERVAL_S": "0.5",
            # The books check reads every payment of a round back through the terminal API, far faster
            # than a till; the per-terminal limit (tests/contract/edge) would otherwise refuse it.
            "POS_ENGINE__RATE_LIMIT": "200/second;20000/minute",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO),
        }
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.kills: Counter[str] = Counter()

    @classmethod
    def create(cls, home: Path) -> Stack:
        init_demo_profile(home)
        return cls(home)

    @property
    def engine_url(self) -> str:
        return self.settings.terminal.engine_url

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.settings.sandbox.listen}"

    def pos(self, *args: str) -> str:
        done = subprocess.run([*POS, *args], env=self.env, capture_output=True, timeout=60, check=False, cwd=REPO)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode().strip()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it
        process = subprocess.Popen(argv, env=self.env, stdout=log, stderr=log, cwd=REPO)
        self.running[name] = process
        return process

    def start(self, name: str) -> None:
        """Start ``sandbox`` or ``engine`` and wait until it answers /healthz."""
        url = self.sandbox_url if name == "sandbox" else self.engine_url
        process = self._spawn(name, [*POS, name, "serve"])
        deadline = time.monotonic() + 90  # generous: a loaded CI machine imports slowly
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited: {(self.home / f'{name}.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} did not become healthy")

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown code runs."""
        process = self.running.pop(name, None)
        if process is None:
            return
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        self.kills[name] += 1

    def is_running(self, name: str) -> bool:
        process = self.running.get(name)
        return process is not None and process.poll() is None

    def terminal(self, *args: str, engine_url: str | None = None) -> subprocess.Popen[bytes]:
        """Start the headless terminal (``engine_url``: point it elsewhere, e.g. a dead port)."""
        saved = self.env
        if engine_url is not None:
            self.env = {**saved, "POS_TERMINAL__ENGINE_URL": engine_url}
        try:
            return self._spawn("terminal", [*DRIVER, *args])
        finally:
            self.env = saved

    def settle_terminal(self, timeout_s: float = 120.0) -> dict[str, object]:
        """The terminal restarted with the link back: its catch-up, run to the end in this process
        (settle every open payment and refund through the engine, drain the outbox)."""
        from tests.faults.terminal_driver import Terminal

        async def catch_up() -> dict[str, object]:
            terminal = Terminal(self.settings, random.Random(0))
            try:
                return await terminal.catch_up(timeout_s)
            finally:
                await terminal.aclose()

        summary = asyncio.run(catch_up())
        assert summary["open_payments"] == summary["open_refunds"] == summary["unsent"] == 0, summary
        return summary

    def stop_all(self) -> None:
        for name in list(self.running):
            process = self.running.pop(name)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def activate_terminal(self) -> None:
        code = self.pos("engine", "activation-code").splitlines()[-1].strip()
        activate(self.settings, code)
        seed_demo_staff(self.settings)

    def client(self) -> EngineClient:
        terminal = self.settings.terminal
        key = decode_key(self.settings.path(terminal.terminal_key_file).read_text("utf-8"))
        return EngineClient(terminal.engine_url, terminal.terminal_id, key)

    def add_fault(self, **spec: object) -> None:
        response = httpx.post(f"{self.sandbox_url}/sandbox/faults", json=spec, timeout=5)
        assert response.status_code == 201, response.text

    def clear_faults(self) -> None:
        httpx.delete(f"{self.sandbox_url}/sandbox/faults", timeout=5).raise_for_status()


# --- the books of each party ------------------------------------------------------------------


@dataclass
class Books:
    """What one check found (for the printed summary)."""

    events: int = 0
    sales: Counter[str] = field(default_factory=Counter)  # by channel
    paid_wallet: int = 0
    refunds: int = 0
    terminal_net_fen: int = 0
    engine_net_fen: int = 0
    sandbox_net_fen: int = 0


def _sandbox_net(settings: Settings) -> dict[str, int]:
    """Per order number, what the customer was charged minus what was given back, by the gateway's records."""
    net: dict[str, int] = {}
    with sqlite3.connect(settings.path(settings.sandbox.state_path)) as db:
        for number, state, total in db.execute("SELECT out_trade_no, trade_state, total FROM wechat_orders"):
            net[number] = total if state in ("SUCCESS", "REFUND") else 0
        for number, amount in db.execute(
            "SELECT out_trade_no, refund FROM wechat_refunds WHERE status = 'SUCCESS'"
        ).fetchall():
            net[number] -= amount
        for number, total, paid_at in db.execute("SELECT out_trade_no, total_fen, paid_at FROM alipay_trades"):
            net[number] = total if paid_at is not None else 0
        for number, amount in db.execute("SELECT out_trade_no, amount_fen FROM alipay_refunds").fetchall():
            net[number] -= amount
    return net


def _code_uses(settings: Settings) -> Counter[str]:
    """How many orders each payment code paid for, by the wallet's own record."""
    with sqlite3.connect(settings.path(settings.sandbox.state_path)) as db:
        return Counter(code for (code,) in db.execute("SELECT code FROM auth_codes WHERE used_by IS NOT NULL"))


def _synced_hashes(settings: Settings, terminal_id: str) -> list[tuple[int, str]]:
    url = settings.database_url
    assert url.startswith("sqlite:///"), url
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return list(
            db.execute(
                "SELECT seq, hash FROM terminal_journal_events WHERE terminal_id = ? ORDER BY seq", (terminal_id,)
            )
        )


async def compare_on_engine(client: EngineClient, day: date) -> TerminalDayComparison:
    async with httpx.AsyncClient(base_url=str(client._http.base_url), timeout=10) as raw:  # noqa: SLF001
        response = await raw.get("/v1/reports/terminals", params={"date": day.isoformat()}, auth=client._auth())  # noqa: SLF001
    response.raise_for_status()
    [comparison] = [TerminalDayComparison.model_validate(item) for item in response.json()]
    return comparison


async def check_books(stack: Stack) -> Books:
    """Assert the invariants of a finished round; return what was counted."""
    settings = stack.settings
    terminal_id = settings.terminal.terminal_id
    books = Books()
    engine = journal.open_journal(settings.path(settings.terminal.journal_path))
    try:
        with journal.session_scope(engine) as session:
            result = verify_chain(session)
            assert result.ok, f"hash chain: {result}"
            events = [(e.seq, e.hash) for e in session.exec(journal_events_query(terminal_id))]
            sales = list(session.exec(journal_sales_query()))
            refunds = list(session.exec(journal_refunds_query()))
            unsent = journal.unsent_count(session, terminal_id=terminal_id)
    finally:
        engine.dispose()
    books.events = len(events)
    books.refunds = len(refunds)

    # Every journal event reached the engine exactly once: same seqs (the key), same hashes.
    assert unsent == 0
    assert _synced_hashes(settings, terminal_id) == events

    # Every payment and refund is final.
    for sale in sales:
        books.sales[sale.channel] += 1
        assert PaymentState(sale.state) in SETTLED_STATES, (sale.out_trade_no, sale.state)
    for refund in refunds:
        assert RefundState(refund.state) in (RefundState.SUCCESS, RefundState.FAILED), refund

    sandbox = _sandbox_net(settings)
    # No order the terminal does not know was charged (a retry never became a second order) ...
    assert set(sandbox) <= {s.out_trade_no for s in sales}, set(sandbox) - {s.out_trade_no for s in sales}
    # ... and no payment code paid for two orders.
    assert all(count == 1 for count in _code_uses(settings).values())

    async with stack.client() as client:
        for sale in sales:
            if sale.channel == "cash":
                books.terminal_net_fen += _net(sale.state, sale.amount_fen, sale.refunded_fen)
                continue
            ours = _net(sale.state, sale.amount_fen, sale.refunded_fen)
            try:
                view = await client.get_payment(sale.out_trade_no)
                theirs = _net(view.state.value, view.amount_fen, view.refunded_fen)
                assert view.state in SETTLED_STATES, view
            except PaymentNotFound:
                theirs = 0
                assert sale.state == PaymentState.CLOSED.value, sale  # never reached the engine: nothing charged
            truth = sandbox.get(sale.out_trade_no, 0)
            assert ours == theirs == truth, (sale.out_trade_no, sale.state, ours, theirs, truth)
            books.paid_wallet += ours > 0
            books.terminal_net_fen += ours
            books.engine_net_fen += theirs
            books.sandbox_net_fen += truth
        # The terminal dates sales in its own time zone, the engine in the business one (China).
        today = datetime.now(UTC)
        days = {sale.business_day for sale in sales} | {
            today.astimezone().date().isoformat(),
            today.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat(),
        }
        for day in sorted(days):
            comparison = await compare_on_engine(client, date.fromisoformat(day))
            assert comparison.agrees, comparison.differences
            assert comparison.synced_seq == len(events)
    journal_wallet_net = books.terminal_net_fen - sum(
        _net(s.state, s.amount_fen, s.refunded_fen) for s in sales if s.channel == "cash"
    )
    assert journal_wallet_net == books.engine_net_fen == books.sandbox_net_fen == sum(sandbox.values())
    return books


def _net(state: str, amount_fen: int, refunded_fen: int) -> int:
    return amount_fen - refunded_fen if PaymentState(state) in COLLECTED_STATES else 0


def journal_events_query(terminal_id: str):  # type: ignore[no-untyped-def]
    from sqlmodel import col, select

    return (
        select(journal.JournalEvent)
        .where(journal.JournalEvent.terminal_id == terminal_id)
        .order_by(col(journal.JournalEvent.seq))
    )


def journal_sales_query():  # type: ignore[no-untyped-def]
    from sqlmodel import select

    return select(journal.Sale)


def journal_refunds_query():  # type: ignore[no-untyped-def]
    from sqlmodel import select

    return select(journal.Refund)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
