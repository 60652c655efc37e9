"""The engine-kill-during-QR fault round (issue 15): real `pos sandbox serve` and `pos engine serve`
children under the embedded default's Supervisor, and the till's use cases (the headless terminal of
terminal_driver.py) in this process.

Twice a QR is on the till's screen when the engine child is SIGKILLed; the supervisor restarts it;
then the customer pays the QR. The first sale was left open on screen: it settles PAID normally, no
alert. The second was cancelled by the cashier while the engine was away (the intent journaled at
once, the cancel call failing): its late PAID raises a money alert. Then the books of the three
parties are checked as after every fault round (support.check_books): nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from pathlib import Path

import pytest

from pos_app.domain.errors import EngineUnavailable
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.launcher import Child, Supervisor
from pos_app.terminal.alerts import AlertKind
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.sales import Attempt
from tests.faults.support import Stack, check_books
from tests.faults.terminal_driver import Terminal

pytestmark = pytest.mark.slow


def kill(engine: Child) -> int:
    """SIGKILL the engine child (no shutdown code runs); its pid."""
    pid = engine.process.pid
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_restarted(supervisor: Supervisor, engine: Child, old_pid: int, timeout_s: float = 60.0) -> None:
    """Until the supervisor has started a new engine child that answers its health check."""
    deadline = time.monotonic() + timeout_s
    while engine.process.pid == old_pid or supervisor.problem() is not None:
        assert time.monotonic() < deadline, f"the engine was not restarted: {supervisor.problem()}"
        time.sleep(0.1)


async def wait_paid(terminal: Terminal, attempt: Attempt, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while attempt.state is not PaymentState.PAID:
            with contextlib.suppress(EngineUnavailable):
                attempt.view = await terminal.till.refresh(attempt)
            await asyncio.sleep(0.3)


async def qr_round(stack: Stack, supervisor: Supervisor, engine: Child) -> None:
    terminal = Terminal(stack.settings, random.Random(15))
    till = terminal.till
    try:
        # 1. Left open on screen: restarted engine, customer pays, the sale settles PAID, no alert.
        kept = await till.start_native(SaleDraft(1234, "QR kept open"), Channel.WECHAT)
        assert kept.view is not None and kept.view.code_url
        till.watch(kept.out_trade_no)
        await asyncio.to_thread(wait_restarted, supervisor, engine, kill(engine))
        paid = await terminal.sandbox.post("/sandbox/pay", json={"qr": kept.view.code_url})
        assert paid.status_code == 200, paid.text
        await wait_paid(terminal, kept)
        till.unwatch(kept.out_trade_no)
        assert till.open_alerts() == []

        # 2. Cancelled while the engine is away: the intent is journaled, the cancel cannot be sent.
        cancelled = await till.start_native(SaleDraft(555, "QR cancelled"), Channel.ALIPAY)
        assert cancelled.view is not None and cancelled.view.code_url
        till.watch(cancelled.out_trade_no)
        old = kill(engine)
        till.request_cancel(cancelled, reason="customer left")
        with pytest.raises(EngineUnavailable):
            await till.cancel(cancelled, reason="customer left")
        till.unwatch(cancelled.out_trade_no)
        await asyncio.to_thread(wait_restarted, supervisor, engine, old)
        paid = await terminal.sandbox.post("/sandbox/pay", json={"qr": cancelled.view.code_url})
        assert paid.status_code == 200, paid.text
        report = await till.settle_all()
        assert report.payments == {cancelled.out_trade_no: PaymentState.PAID}, report
        [alert] = till.open_alerts()
        assert alert.kind is AlertKind.PAID_AFTER_CANCEL and alert.out_trade_no == cancelled.out_trade_no
        assert alert.amount_fen == 555
        summary = await terminal.catch_up(60)
        assert summary["open_payments"] == summary["open_refunds"] == summary["unsent"] == 0, summary
    finally:
        await terminal.aclose()


@pytest.mark.timeout(300)
def test_engine_killed_while_a_qr_is_shown(tmp_path: Path) -> None:
    stack = Stack.create(tmp_path / "home")
    supervisor = Supervisor(stack.home)
    try:
        sandbox = supervisor.start("sandbox", ["sandbox", "serve"], f"{stack.sandbox_url}/healthz")
        engine = supervisor.start("engine", ["engine", "serve"], f"{stack.engine_url}/healthz")
        supervisor.wait_healthy(sandbox)
        supervisor.wait_healthy(engine)
        supervisor.watch()  # as the embedded default does: a crashed child is restarted
        stack.activate_terminal()
        asyncio.run(qr_round(stack, supervisor, engine))
        books = asyncio.run(check_books(stack))
    finally:
        supervisor.stop_all()
    # Both payments are in every party's books once: the journal, the engine and the gateway agree.
    assert books.paid_wallet == 2 and books.sandbox_net_fen == books.terminal_net_fen == 1234 + 555
