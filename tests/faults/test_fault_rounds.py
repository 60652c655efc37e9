"""Fault injection with real processes: the terminal and the engine SIGKILLed at random moments,
the link cut, the gateway losing replies and duplicating, delaying and reordering notifications.

Each round: a headless terminal process (the till's use cases + the outbox drain) runs random cash
sales, voids, native and micropay payments and refunds while faults happen; then everything is
restarted, the terminal catches up (settles what is open, drains the outbox) and the books of the
three parties are checked (tests/faults/support.py:check_books): every journal event on the engine
exactly once, the hash chain intact, every payment final and equal to what the gateway charged, no
code charged twice, terminal = engine = sandbox totals.

``POS_FAULT_ROUNDS`` (default 6) and ``POS_FAULT_SEED`` choose how many rounds and which.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.support import Books, Stack, check_books

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("POS_FAULT_ROUNDS", "6"))
SEED = int(os.environ.get("POS_FAULT_SEED", "20261122"))
DEAD_ENGINE = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused

SANDBOX_FAULTS: list[dict[str, object]] = [
    {"kind": "reply_lost", "probability": 0.3, "times": 3},
    {"kind": "reply_lost", "probability": 0.5, "operation": "codepay", "times": 2},
    {"kind": "reply_lost", "probability": 0.5, "operation": "alipay.trade.pay", "times": 2},
    {"kind": "server_error", "probability": 0.3, "status": 503, "times": 3},
    {"kind": "latency", "probability": 0.3, "seconds": 1.0, "times": 4},
    {"kind": "notify_duplicate", "probability": 0.7},
    {"kind": "notify_delay", "probability": 0.5, "seconds": 2.0},
    {"kind": "notify_reorder", "probability": 0.5, "seconds": 2.0},
    {"kind": "notify_drop", "probability": 0.3},
]


def _round(stack: Stack, rng: random.Random, tally: Counter[str]) -> None:
    for spec in rng.sample(SANDBOX_FAULTS, k=rng.randint(1, 3)):
        stack.add_fault(**spec)
        tally[f"sandbox {spec['kind']}"] += 1
    offline = rng.random() < 0.25
    if offline:
        tally["terminal offline (dead port)"] += 1
    ops = str(rng.randint(4, 7))
    terminal = stack.terminal(
        "--ops", ops, "--seed", str(rng.randrange(2**31)), engine_url=DEAD_ENGINE if offline else None
    )
    for action in rng.sample(["kill terminal", "kill engine", "engine away"], k=rng.randint(1, 2)):
        time.sleep(rng.uniform(0.3, 3.0))
        if action == "kill terminal":
            if terminal.poll() is None:
                stack.kill("terminal")
                tally[action] += 1
                terminal = stack.terminal("--ops", "3", "--seed", str(rng.randrange(2**31)))
        elif action == "kill engine":
            stack.kill("engine")
            tally[action] += 1
            time.sleep(rng.uniform(0.1, 1.0))
            stack.start("engine")
        else:  # the link is cut for a while; the terminal keeps working
            stack.kill("engine")
            tally[action] += 1
            time.sleep(rng.uniform(2.0, 4.0))
            stack.start("engine")
    phase = time.monotonic()
    try:
        terminal.wait(timeout=120)
    except Exception:
        stack.kill("terminal")
        raise
    stack.running.pop("terminal", None)
    stack.clear_faults()
    if not stack.is_running("engine"):
        stack.start("engine")
    waited = time.monotonic() - phase
    phase = time.monotonic()
    stack.settle_terminal()
    print(f"round: terminal finished after {waited:.1f} s more, catch-up {time.monotonic() - phase:.1f} s")


@pytest.mark.timeout(120 + 90 * ROUNDS)  # about 15-40 s a round, depending on the machine's load
def test_fault_rounds(tmp_path: Path) -> None:
    stack = Stack.create(tmp_path / "home")
    rng = random.Random(SEED)
    tally: Counter[str] = Counter()
    books = Books()
    started = time.monotonic()
    try:
        stack.start("sandbox")
        stack.start("engine")
        stack.activate_terminal()
        for number in range(ROUNDS):
            _round(stack, rng, tally)
            try:
                books = asyncio.run(check_books(stack))
            except AssertionError as exc:
                raise AssertionError(f"round {number + 1} (seed {SEED}): {exc}") from exc
    finally:
        stack.stop_all()
    ops = Counter(
        line.split()[1] for line in (stack.home / "terminal.log").read_text().splitlines() if line.startswith("OP ")
    )
    print(
        f"\nfault rounds: {ROUNDS} in {time.monotonic() - started:.0f} s (seed {SEED}); faults: {dict(tally)} "
        f"({sum(tally.values())} in all); terminal ops: {dict(ops)}; journal events {books.events}, "
        f"sales {dict(books.sales)}, wallet payments with money in {books.paid_wallet}, refunds {books.refunds}; "
        f"net terminal {books.terminal_net_fen} fen, wallet net engine = sandbox = {books.sandbox_net_fen} fen"
    )
    assert books.events > 0 and sum(books.sales.values()) > 0
