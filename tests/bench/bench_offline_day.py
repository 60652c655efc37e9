"""Benchmark: an offline day and its catch-up, end to end over real processes.

Runs the scenario of ``tests/e2e/test_offline_day.py`` (500 cash sales, 5 voids and a shift journaled
while the engine is down, a refused QR payment; then the engine returns and the terminal syncs every
event and settles the open QR order) and prints the wall time of each phase. The e2e test asserts the
behaviour; the times live here, outside the pass/fail run, because on a shared 2-core machine they
vary with the load. Expect the catch-up well within a minute there.

Run: ``.venv/bin/python tests/bench/bench_offline_day.py [RUNS]``; compare runs on the same machine.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.test_offline_day import SALES, OfflineDay, run_offline_day  # noqa: E402


def main(runs: int) -> None:
    days: list[OfflineDay] = []
    for n in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-offline-day-") as tmp:
            day = run_offline_day(Path(tmp) / "home")
        days.append(day)
        print(
            f"run {n + 1}: {SALES} cash sales + 5 voids + shift open/close journaled offline in {day.sales_s:.1f} s; "
            f"{day.events} events ({day.unsent} unsent before the shift close) synced and the QR order settled "
            f"{day.catch_up_s:.1f} s after the engine came back; cash net {day.cash_net_fen} fen on both sides"
        )
    if runs > 1:
        print(
            f"median of {runs}: offline journaling {statistics.median(d.sales_s for d in days):.1f} s, "
            f"catch-up {statistics.median(d.catch_up_s for d in days):.1f} s"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
