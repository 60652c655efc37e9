"""Fault injection with real processes: the terminal and the engine SIGKILLed at random moments,
the link cut, the gateway losing replies and duplicating, delaying and reordering notifications.

Each round: a headless terminal process (the till's use cases + the outbox drain) runs random cash
sales, voids, native and micropay payments and refunds while faults happen; then everything is
restarted, the terminal catches up (settles what is open, drains the outbox) and the books of the
three parties are checked (tests/faults/support.py:check_books): every journal event on the engine
exactly once, the hash chain intact, every payment final and equal to what the gateway charged, no
code charged twice, terminal = engine = sandbox totals.

The rounds' events are drawn up front from one seed (tests/faults/plan.py). ``POS_FAULT_ROUNDS``
(default 6) says how many rounds, ``POS_FAULT_SEED`` which seed; a failure names the seed and the
round's events, and setting ``POS_FAULT_SEED`` to that seed replays the same events.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.plan import RESTART_OPS, Disruption, RoundPlan, plan_run
from tests.faults.support import Books, Stack, check_books

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("POS_FAULT_ROUNDS", "6"))
SEED = int(os.environ.get("POS_FAULT_SEED", "20261122"))
DEAD_ENGINE = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused


def _round(stack: Stack, plan: RoundPlan, tally: Counter[str]) -> None:
    for spec, seed in zip(plan.faults, plan.fault_seeds, strict=True):
        stack.add_fault(**spec, seed=seed)
        tally[f"sandbox {spec['kind']}"] += 1
    if plan.offline:
        tally["terminal offline (dead port)"] += 1
    terminal = stack.terminal(
        "--ops", str(plan.ops), "--seed", str(plan.terminal_seed), engine_url=DEAD_ENGINE if plan.offline else None
    )
    for event in plan.disruptions:
        time.sleep(event.after_s)
        if event.kind is Disruption.KILL_TERMINAL:
            if terminal.poll() is None:
                stack.kill("terminal")
                tally[event.kind.value] += 1
                terminal = stack.terminal("--ops", str(RESTART_OPS), "--seed", str(event.restart_seed))
        else:
            stack.kill("engine")
            tally[event.kind.value] += 1
            time.sleep(event.down_s)
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
    catch_up = time.monotonic() - phase
    print(f"round ({plan.describe()}): terminal finished after {waited:.1f} s more, catch-up {catch_up:.1f} s")


@pytest.mark.timeout(120 + 90 * ROUNDS)  # about 15-40 s a round, depending on the machine's load
def test_fault_rounds(tmp_path: Path) -> None:
    stack = Stack.create(tmp_path / "home")
    tally: Counter[str] = Counter()
    books = Books()
    started = time.monotonic()
    try:
        stack.start("sandbox")
        stack.start("engine")
        stack.activate_terminal()
        for number, plan in enumerate(plan_run(SEED, ROUNDS), start=1):
            try:
                _round(stack, plan, tally)
                books = asyncio.run(check_books(stack))
            except Exception as exc:
                exc.add_note(f"fault round {number} of seed {SEED} ({plan.describe()}); replay: POS_FAULT_SEED={SEED}")
                raise
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
