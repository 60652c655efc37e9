"""Benchmark: `pos demo chain` — a week of a two-store, four-till chain through the real flows.

Prints, per run, the wall time of the whole generation (profile, keys, activation, every day, the
reconciliations), the CPU time this process used (what the generator itself costs, whatever the
machine's other load) and the payments made; then the medians. Target: a week well under two minutes
on the 2-core build machine. ``tests/e2e/test_demo_chain.py`` asserts the behaviour on two days.

Run: ``.venv/bin/python tests/bench/bench_demo_chain.py [RUNS] [DAYS]`` (default 3 runs of 7 days).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pos_app.demo_chain.run import generate_chain  # noqa: E402


def main(runs: int, days: int) -> None:
    walls: list[float] = []
    cpus: list[float] = []
    for n in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-demo-chain-") as tmp:
            cpu = time.process_time()
            summary = asyncio.run(generate_chain(Path(tmp) / "chain", days=days, seed=n + 1, progress=lambda _: None))
            cpus.append(time.process_time() - cpu)
        walls.append(summary.elapsed_s)
        payments = sum(day.payments for day in summary.days)
        print(
            f"run {n + 1}: {days} days, {payments} payments, wall {summary.elapsed_s:.1f} s, CPU {cpus[-1]:.1f} s, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    print(f"median of {runs}: wall {statistics.median(walls):.1f} s, CPU {statistics.median(cpus):.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, int(sys.argv[2]) if len(sys.argv) > 2 else 7)
