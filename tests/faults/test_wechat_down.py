"""WeChat Pay down for a minute while Alipay works (issue 16, "Done means"), with real processes.

The sandbox (``pos sandbox serve``) answers every WeChat call with a system error for ``OUTAGE_S``
(its fault injection API); the engine (``pos engine serve``) and a headless till (the terminal core,
as the checkout uses it) keep taking sales the whole time. Checked: the till offers Alipay and cash
and refuses WeChat with the engine's words; Alipay sales are paid meanwhile; the WeChat breaker
opens and closes again (seen through ``/v1/channels`` and ``/metrics``); after the catch-up every
payment is final and agrees with the gateway's records (journal = engine = sandbox), and the daily
report lists nothing unsettled. The breaker runs with its default policy (5 unanswered calls open
it, probes after 10, 20, 40 s): nothing is shortened.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from pathlib import Path

import httpx
import pytest

from pos_app.domain.routing import Channel, route_auth_code
from pos_app.domain.states import PaymentState
from pos_app.terminal.cart import SaleDraft
from tests.faults.support import Stack, check_books
from tests.faults.terminal_driver import Terminal

pytestmark = pytest.mark.slow

OUTAGE_S = 60.0
#: The longest the breaker may take to close after the outage: its probes back off to 40 s.
RECOVERY_S = 150.0
WECHAT_DOWN = "WeChat Pay is not answering — use Alipay or cash."
BREAKER_GAUGE = re.compile(r'^pos_engine_breaker_state\{channel="wechat"\} (\S+)$', re.MULTILINE)


def breaker_gauge(stack: Stack) -> float:
    text = httpx.get(f"{stack.engine_url}/metrics", timeout=5).text
    match = BREAKER_GAUGE.search(text)
    assert match is not None, text[-2000:]
    return float(match.group(1))


class Run:
    """One run's till, and what it saw."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.terminal = Terminal(stack.settings, random.Random(16))
        self.till = self.terminal.till
        self.wechat_states: list[str] = []  # the engine's /v1/channels, in order
        self.gauges: set[float] = set()
        self.alipay_paid = 0
        self.alipay_slowest_s = 0.0
        self.cash_sales = 0
        self.wechat_tried = 0
        self.refused_fast: list[float] = []  # seconds the engine took to refuse a create on the open breaker

    async def look(self) -> None:
        """What the engine says of WeChat, twice: /v1/channels (through the till's board) and /metrics."""
        view = await self.till.client.channels()
        self.wechat_states.append(next(s.state for s in view.channels if s.channel is Channel.WECHAT))
        await self.till.check_channels()
        self.gauges.add(await asyncio.to_thread(breaker_gauge, self.stack))

    async def alipay_sale(self) -> None:
        """A scanned Alipay code, paid at once: what the cashier takes instead of WeChat."""
        started = time.monotonic()
        answer = await self.terminal.sandbox.post("/sandbox/authcodes", json={"channel": "alipay"})
        routed = route_auth_code(answer.json()["auth_code"])
        attempt = await self.till.start_micropay(
            SaleDraft(1000 + self.alipay_paid, "alipay while wechat is down"), routed
        )
        assert attempt.state is PaymentState.PAID, (attempt.out_trade_no, attempt.state, attempt.error)
        self.alipay_paid += 1
        self.alipay_slowest_s = max(self.alipay_slowest_s, time.monotonic() - started)

    async def wechat_qr(self) -> None:
        """A WeChat QR sale, as a cashier who was offered the key starts it; paid if the QR came."""
        self.wechat_tried += 1
        attempt = await self.till.start_native(SaleDraft(500 + self.wechat_tried, "wechat qr"), Channel.WECHAT)
        if attempt.view is not None and attempt.view.code_url:
            await self.terminal.sandbox.post("/sandbox/pay", json={"qr": attempt.view.code_url})
        await self.terminal.follow(attempt, wait_s=2.0)


async def outage(stack: Stack, run: Run) -> None:
    till = run.till
    board = await till.check_channels()
    assert not board.degraded and breaker_gauge(stack) == 0.0
    stack.add_fault(kind="server_error", gateway="wechat", status=500)
    down_at = time.monotonic()
    wechat_sales: set[asyncio.Task[None]] = set()
    saw_refusal = False
    while time.monotonic() - down_at < OUTAGE_S:
        await run.look()
        board = till.channel_board
        if board.offers(Channel.WECHAT):
            if not wechat_sales:  # one at a time: a cashier waits for the first before trying again
                task = asyncio.create_task(run.wechat_qr())
                wechat_sales.add(task)
                task.add_done_callback(wechat_sales.discard)
        else:
            # The till refuses the WeChat key with the engine's words and offers Alipay and cash.
            assert board.refusal(Channel.WECHAT) == WECHAT_DOWN
            assert board.offers(Channel.ALIPAY) and board.scan_refusal() is None
            if not saw_refusal:
                # Sent anyway (a till that has not looked yet): the engine refuses it without calling.
                started = time.monotonic()
                attempt = await till.start_native(SaleDraft(321, "wechat on an open breaker"), Channel.WECHAT)
                run.refused_fast.append(time.monotonic() - started)
                assert attempt.state is PaymentState.FAILED, attempt
                assert attempt.view is not None and attempt.view.failure_reason == WECHAT_DOWN
                saw_refusal = True
        await run.alipay_sale()
        await run.terminal.cash_sale()
        run.cash_sales += 1
        await asyncio.sleep(1.0)
    await asyncio.gather(*wechat_sales)
    assert saw_refusal, f"the WeChat breaker never opened: {run.wechat_states}"
    assert "open" in run.wechat_states and 2.0 in run.gauges


async def recovery(stack: Stack, run: Run) -> float:
    """The fault is gone: the till offers WeChat again once a probe answers; a WeChat sale is paid."""
    stack.clear_faults()
    up_at = time.monotonic()
    while time.monotonic() - up_at < RECOVERY_S:
        await run.look()
        if run.wechat_states[-1] == "closed" and run.till.channel_board.offers(Channel.WECHAT):
            break
        if run.till.channel_board.offers(Channel.WECHAT):
            await run.wechat_qr()  # the probe a cashier's sale makes
        await asyncio.sleep(1.0)
    else:
        raise AssertionError(f"the WeChat breaker did not close: {run.wechat_states[-10:]}")
    closed_after = time.monotonic() - up_at
    assert breaker_gauge(stack) == 0.0
    paid_before = run.wechat_tried
    await run.wechat_qr()
    assert run.wechat_tried == paid_before + 1
    return closed_after


@pytest.mark.timeout(600)
def test_wechat_down_for_a_minute_while_alipay_works(tmp_path: Path) -> None:
    stack = Stack.create(tmp_path / "home")

    async def scenario() -> tuple[Run, float]:
        run = Run(stack)
        try:
            await outage(stack, run)
            closed_after = await recovery(stack, run)
            summary = await run.terminal.catch_up(120)
            assert summary["open_payments"] == summary["open_refunds"] == summary["unsent"] == 0, summary
            report = await run.till.client.daily_report(scope="store")
            assert report.unsettled == [], report.unsettled
            return run, closed_after
        finally:
            await run.terminal.aclose()

    try:
        stack.start("sandbox")
        stack.start("engine")
        stack.activate_terminal()
        run, closed_after = asyncio.run(scenario())
        books = asyncio.run(check_books(stack))  # journal = engine = sandbox, every payment final
    finally:
        stack.stop_all()
    states = [s for i, s in enumerate(run.wechat_states) if i == 0 or run.wechat_states[i - 1] != s]
    print(
        f"\nwechat down {OUTAGE_S:.0f} s: breaker states {states}; closed {closed_after:.0f} s after the fault ended; "
        f"alipay paid {run.alipay_paid} (slowest {run.alipay_slowest_s:.2f} s), cash {run.cash_sales}, "
        f"wechat tried {run.wechat_tried}, refused on the open breaker in {max(run.refused_fast):.3f} s; "
        f"sales {dict(books.sales)}, wallet net {books.sandbox_net_fen} fen"
    )
    assert states[0] == "closed" and "open" in states and states[-1] == "closed"
    assert books.sales["wechat"] >= 2 and books.paid_wallet >= run.alipay_paid + 1
    assert max(run.refused_fast) < 2.0  # failing fast, not waiting on the gateway
    assert run.alipay_slowest_s < 10.0  # WeChat's trouble never held Alipay up
