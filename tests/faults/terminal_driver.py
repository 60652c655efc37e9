"""A headless terminal: the till's use-case layer (pos_app.terminal.till.Till, no Textual) plus the outbox drain.

Run by the fault tests as a real process (``python -m tests.faults.terminal_driver``) from a demo
profile (``POS_HOME``), so it can be SIGKILLed at any moment:

- ``--ops N --seed S``: settle what an earlier run left open, then N random operations — cash sales,
  voids of cash sales, native QR (the customer pays through the sandbox), micropay (a fresh payment
  code from the sandbox wallet), refunds of paid sales — while the outbox drains in the background.
  The engine may vanish at any time: wallet sales then stay open and are settled later.
- ``--settle``: the catch-up a terminal does when the link returns — every open payment and refund is
  settled through the engine and the outbox is drained to the end. Prints one JSON line and exits 0
  only when nothing is left open or unsent.

Every line on stdout is ``OP ...`` or the final JSON: the test reads them for its counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time

import httpx

from pos_app import journal
from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient, PaymentNotFound
from pos_app.config import Settings, load_settings
from pos_app.domain.errors import EngineUnavailable, PosError
from pos_app.domain.routing import Channel, route_auth_code
from pos_app.domain.states import SETTLED_STATES, PaymentState, RefundState
from pos_app.sync.outbox import ChainRefused, OutboxDrain
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.sales import Attempt
from pos_app.terminal.till import Till

CASHIER_PIN, MANAGER_PIN = "1234", "9999"
FINAL_REFUNDS = {RefundState.SUCCESS, RefundState.FAILED}


def say(*parts: object) -> None:
    print("OP", *parts, flush=True)


class Terminal:
    def __init__(self, settings: Settings, rng: random.Random) -> None:
        terminal = settings.terminal
        self.settings = settings
        self.rng = rng
        engine = journal.open_journal(settings.path(terminal.journal_path))
        key = decode_key(settings.path(terminal.terminal_key_file).read_text("utf-8"))
        client = EngineClient(terminal.engine_url, terminal.terminal_id, key)
        self.till = Till(settings, engine, client)
        self.drain = OutboxDrain(engine, client, terminal.terminal_id, initial_backoff_s=0.1, max_backoff_s=1.0)
        self.till.on_journal_write = self.drain.wake.set
        self.till.login(CASHIER_PIN)
        self.manager = self.till.check_manager(MANAGER_PIN)
        self.sandbox = httpx.AsyncClient(base_url=f"http://{settings.sandbox.listen}", timeout=10)

    async def aclose(self) -> None:
        await self.sandbox.aclose()
        await self.till.client.aclose()
        self.till.journal.dispose()

    # -- operations ---------------------------------------------------------------------------------

    async def cash_sale(self) -> None:
        amount = self.rng.randint(1, 50_000)
        receipt = self.till.cash_sale(SaleDraft(amount, "fault cash"), amount + self.rng.choice([0, 100, 5000]))
        say("cash", receipt.out_trade_no, amount)

    async def void_cash(self) -> None:
        for row in self.till.history():
            if row.channel is Channel.CASH and row.state is PaymentState.PAID and row.refunded_fen == 0:
                self.till.void_cash(row.out_trade_no, reason="fault void", manager=self.manager)
                say("void", row.out_trade_no)
                return

    async def micropay(self) -> None:
        channel = self.rng.choice(["wechat", "alipay"])
        password = self.rng.choice([0, 0, 0, 1.5])
        answer = await self.sandbox.post("/sandbox/authcodes", json={"channel": channel, "password_seconds": password})
        answer.raise_for_status()
        routed = route_auth_code(answer.json()["auth_code"])
        amount = self.rng.randint(1, 30_000)
        attempt = await self.till.start_micropay(SaleDraft(amount, "fault micropay"), routed)
        say("micropay", attempt.out_trade_no, channel, amount, attempt.state.value, attempt.error or "")
        await self.follow(attempt)

    async def native(self) -> None:
        channel = self.rng.choice([Channel.WECHAT, Channel.ALIPAY])
        amount = self.rng.randint(1, 30_000)
        attempt = await self.till.start_native(SaleDraft(amount, "fault native"), channel)
        say("native", attempt.out_trade_no, channel.value, amount, attempt.state.value, attempt.error or "")
        code_url = attempt.view.code_url if attempt.view else None
        if code_url and self.rng.random() < 0.85:  # the customer scans and pays (now or a moment later)
            paid = await self.sandbox.post("/sandbox/pay", json={"qr": code_url, "after_s": self.rng.choice([0, 0.5])})
            say("scan", attempt.out_trade_no, paid.status_code)
        await self.follow(attempt)

    async def follow(self, attempt: Attempt, wait_s: float = 3.0) -> None:
        """Watch the payment for a moment; if it is still open, cancel it (the answer may be PAID)."""
        deadline = time.monotonic() + wait_s
        while attempt.state not in SETTLED_STATES and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            with contextlib.suppress(EngineUnavailable, PaymentNotFound):
                attempt.view = await self.till.refresh(attempt)
        if attempt.state not in SETTLED_STATES and attempt.view is not None:
            with contextlib.suppress(EngineUnavailable):
                await self.till.cancel(attempt, reason="fault test: not paid in time")
        say("followed", attempt.out_trade_no, attempt.state.value)

    async def refund(self) -> None:
        candidates = [row for row in self.till.history() if row.refundable and row.amount_fen > row.refunded_fen]
        if not candidates:
            return
        row = self.rng.choice(candidates)
        amount = self.rng.randint(1, row.amount_fen - row.refunded_fen)
        self.till.check_manager(MANAGER_PIN)  # a manager approves each refund (the engine checks it again)
        state = await self.till.refund(row.out_trade_no, amount, reason="fault refund", manager=self.manager)
        say("refund", row.out_trade_no, row.channel.value, amount, state.value)

    async def one(self) -> None:
        kinds = [self.cash_sale, self.void_cash, self.micropay, self.native, self.refund]
        op = self.rng.choices(kinds, weights=[3, 0.5, 2.5, 2, 1.2])[0]
        try:
            await op()
        except EngineUnavailable as exc:
            say("offline", op.__name__, exc.message)
        except PosError as exc:  # refused by the engine (e.g. refund of a sale it has not settled)
            say("refused", op.__name__, type(exc).__name__, exc.message)

    # -- catching up --------------------------------------------------------------------------------

    async def settle_open(self) -> tuple[int, int]:
        """Settle every open payment and refund through the engine. Returns (payments, refunds) still open."""
        for row in self.till.pending():
            try:
                state = await self.till.settle(row.out_trade_no)
                say("settled", row.out_trade_no, state.value)
            except PosError as exc:
                say("settle-failed", row.out_trade_no, type(exc).__name__)
        for out_trade_no, out_refund_no in self.till.open_refunds():
            try:
                # Sending the same out_refund_no again is idempotent: it also reaches an engine
                # that never got the first request (a void is followed as a void).
                state = await self.till.settle_refund(out_trade_no, out_refund_no)
                if state not in FINAL_REFUNDS:
                    view = await self.till.client.get_refund(out_trade_no, out_refund_no)
                    self.till.apply_refund(view)
                    state = view.state
                say("refund-settled", out_refund_no, state.value)
            except PosError as exc:
                say("refund-settle-failed", out_refund_no, type(exc).__name__)
        with journal.session_scope(self.till.journal) as session:
            return len(journal.non_final_attempts(session)), len(journal.unsettled_refunds(session))

    async def catch_up(self, timeout_s: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout_s
        open_payments = open_refunds = unsent = -1
        error: str | None = None
        while time.monotonic() < deadline:
            try:
                open_payments, open_refunds = await self.settle_open()
                await self.drain.drain_once()
                error = None
            except (EngineUnavailable, ChainRefused) as exc:
                error = exc.message
            unsent = self.till.unsent_count()
            if open_payments == open_refunds == unsent == 0:
                break
            await asyncio.sleep(0.5)
        return {
            "open_payments": open_payments,
            "open_refunds": open_refunds,
            "unsent": unsent,
            "acked_seq": self.drain.status.acked_seq,
            "error": error,
        }


async def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    terminal = Terminal(settings, random.Random(args.seed))
    try:
        if args.settle:
            summary = await terminal.catch_up(args.timeout)
            print(json.dumps(summary), flush=True)
            return 0 if summary["open_payments"] == summary["open_refunds"] == summary["unsent"] == 0 else 1
        stop = asyncio.Event()
        drain = asyncio.create_task(terminal.drain.run(stop, idle_s=0.5))
        with contextlib.suppress(PosError):
            await terminal.settle_open()  # what an earlier (killed) run left open
        for _ in range(args.ops):
            await terminal.one()
        stop.set()
        terminal.drain.wake.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(drain, timeout=5)
        say("done", args.ops)
        return 0
    finally:
        await terminal.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settle", action="store_true")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
