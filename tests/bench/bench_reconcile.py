"""Benchmark: a 1,000,000-row WeChat Pay bill matched against a 1,000,000-payment ledger.

Target: ≤ 5 s and ≤ 500 MB peak memory. Each size runs in a fresh subprocess (peak RSS =
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process, which only parses, loads and matches:
the files are generated beforehand by another subprocess). The 100,000-row run is printed beside
it to show the growth is linear.

Phases timed: parse (streamed from the archived ``.csv.gz`` by ``download.parse_archived``), then
ledger load + match (a real SQLite ledger with the engine's schema, read by
``day_match.match_archived`` straight into the matcher, as ``pos reconcile`` and the engine's daily
scheduler do: the same code). The data carries 0.1 % differences of every kind (see ``KINDS``) so
the slow paths run too, and every count is checked against what an exact reconciliation must find
(``expected``).

Run: ``.venv/bin/python tests/bench/bench_reconcile.py`` (or with pytest: ``-p no:cacheprovider
tests/bench/bench_reconcile.py``; the bench folder is not part of the default run).
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

DAY = date(2026, 11, 21)
LIMIT_S = 5.0
LIMIT_MB = 500.0
HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def _y(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fee(millifen: int) -> str:
    sign = "-" if millifen < 0 else ""
    return f"{sign}{abs(millifen) // 100000}.{abs(millifen) % 100000:05d}"


def _otn(i: int) -> str:
    return f"P261121{(i // 60) % 24:02d}{i % 60:02d}00S00001T{i % 10:03d}{i:08d}"


#: Every 1000th payment differs in each of these ways (i % 1000 == the key), so every kind of
#: difference runs at 0.1 % and the result can be checked kind by kind.
AMOUNT_ALTERED = 1  # the bill says 1 fen more -> amount_differs
NOT_IN_BILL = 2  # the ledger has it paid, the bill does not -> missing_at_provider
UNKNOWN_PAID = 3  # the ledger still has it UNKNOWN, the bill paid -> settled_from_bill
NOT_IN_LEDGER = 4  # the bill has it, the ledger does not -> missing_locally
CLOSED_PAID = 5  # the ledger has it CLOSED, the bill paid -> status_differs
LINE_TWICE = 6  # the bill lists the line twice -> duplicate_in_bill
REFUND_ALTERED = 7  # partly refunded; the bill's refund line says 1 fen more -> refund_differs
REFUND_EQUAL = 8  # partly refunded, the refund line agrees (a matched refund)
KINDS = {
    "amount_differs": AMOUNT_ALTERED,
    "missing_at_provider": NOT_IN_BILL,
    "settled_from_bill": UNKNOWN_PAID,
    "missing_locally": NOT_IN_LEDGER,
    "status_differs": CLOSED_PAID,
    "duplicate_in_bill": LINE_TWICE,
    "refund_differs": REFUND_ALTERED,
}


def expected(n: int) -> dict[str, object]:
    """What an exact reconciliation of ``generate(n)`` reports (n a multiple of 1000)."""
    per = n // 1000
    return {
        "bill_rows": n - per + per + 2 * per,  # - not in bill + the repeated lines + two refund lines
        "ledger_rows": n - per,
        "items": dict.fromkeys(KINDS, per),
        # Payments: all but the altered, not-in-bill, not-in-ledger and closed ones; refunds: the equal one.
        "matched": n - 4 * per + per,
    }


def _refund_no(i: int) -> str:
    return f"R{_otn(i)[1:]}"


def generate(n: int, directory: Path) -> None:
    """Write the bill archive and a ledger of n payments (every 1000th row differs in each way)."""
    directory.mkdir(parents=True, exist_ok=True)
    settle = fee = refund_total = rows = 0
    with gzip.open(directory / "bill.csv.gz", "wt", encoding="utf-8", newline="", compresslevel=1) as out:
        out.write(HEADER + "\r\n")
        for i in range(n):
            k = i % 1000
            amount = 100 + (i * 37) % 50_000
            if k == NOT_IN_BILL:
                continue
            if k == AMOUNT_ALTERED:
                amount += 1
            f = amount * 6
            at = f"2026-11-21 {(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
            line = (
                f"`{at},`wxd930ea5d5a258f4f,`1900000109,`0,`T001,`42000000012026112{i:011d},`{_otn(i)},"
                f"`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`MICROPAY,`SUCCESS,`OTHERS,`CNY,`{_y(amount)},`0.00,`0,`0,`0.00,"
                f"`0.00,`,`,`商品,`,`{f // 100000}.{f % 100000:05d},`0.60%,`{_y(amount)},`0.00,`\r\n"
            )
            for _ in range(2 if k == LINE_TWICE else 1):
                out.write(line)
                settle += amount
                fee += f
                rows += 1
            if k in (REFUND_ALTERED, REFUND_EQUAL):
                back = amount // 2 + (1 if k == REFUND_ALTERED else 0)
                rf = -back * 6
                out.write(
                    f"`{at},`wxd930ea5d5a258f4f,`1900000109,`0,`T001,`42000000012026112{i:011d},`{_otn(i)},"
                    f"`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`MICROPAY,`REFUND,`OTHERS,`CNY,`0.00,`0.00,"
                    f"`50300000012026112{i:011d},`{_refund_no(i)},`{_y(back)},`0.00,`ORIGINAL,`SUCCESS,`商品,`,"
                    f"`-{-rf // 100000}.{-rf % 100000:05d},`0.60%,`0.00,`{_y(back)},`\r\n"
                )
                fee += rf
                refund_total += back
                rows += 1
        out.write(SUMMARY + "\r\n")
        out.write(f"`{rows},`{_y(settle)},`{_y(refund_total)},`0.00,`{_fee(fee)},`{_y(settle)},`{_y(refund_total)}\r\n")

    from pos_app.engine.store import open_ledger

    url = f"sqlite:///{directory / 'ledger.sqlite3'}"
    open_ledger(url).dispose()
    conn = sqlite3.connect(directory / "ledger.sqlite3")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA journal_mode=OFF")
    paid_at = datetime(2026, 11, 21, 2, 0, tzinfo=UTC).replace(tzinfo=None).isoformat(sep=" ")
    states = {UNKNOWN_PAID: "UNKNOWN", CLOSED_PAID: "CLOSED", REFUND_ALTERED: "PARTIALLY_REFUNDED",
              REFUND_EQUAL: "PARTIALLY_REFUNDED"}  # fmt: skip

    def payments() -> object:
        for i in range(n):
            k = i % 1000
            if k == NOT_IN_LEDGER:
                continue
            state = states.get(k, "PAID")
            amount = 100 + (i * 37) % 50_000
            yield (
                _otn(i), f"T{i % 10:03d}", "S00001", "wechat", "micropay", amount, "商品", "cashier", state,
                DAY.isoformat(), amount // 2 if state == "PARTIALLY_REFUNDED" else 0, 0, 0, 0, 1, paid_at, paid_at,
                paid_at if state in ("PAID", "PARTIALLY_REFUNDED") else None,
            )  # fmt: skip

    def refunds() -> object:
        for i in range(n):
            if i % 1000 in (REFUND_ALTERED, REFUND_EQUAL):
                back = (100 + (i * 37) % 50_000) // 2
                yield (_refund_no(i), _otn(i), f"T{i % 10:03d}", back, "", "cashier", "SUCCESS", DAY.isoformat(),
                       0, 1, paid_at, paid_at, paid_at)  # fmt: skip

    conn.executemany(
        "INSERT INTO payments (out_trade_no, terminal_id, store_id, channel, mode, amount_fen, subject, operator,"
        " state, business_day, refunded_fen, needs_attention, cancel_requested, failed_checks, version,"
        " created_at, updated_at, paid_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        payments(),  # type: ignore[arg-type]
    )
    conn.executemany(
        "INSERT INTO refunds (out_refund_no, out_trade_no, terminal_id, amount_fen, reason, operator, state,"
        " business_day, failed_checks, version, created_at, updated_at, succeeded_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        refunds(),  # type: ignore[arg-type]
    )
    conn.commit()
    conn.close()


def measure(directory: Path) -> dict[str, object]:
    """Parse + load + match in this (fresh) process, exactly as ``pos reconcile`` does it
    (``day_match.match_archived``, the call of ``runner._match_day``); returns timings, peak RSS
    and what was found."""
    from pos_app.domain.routing import Channel
    from pos_app.engine.reconcile import day_match
    from pos_app.engine.store import make_engine

    engine = make_engine(f"sqlite:///{directory / 'ledger.sqlite3'}")
    # A fixed reference workload, timed in the same process: how fast this machine is right now.
    # (CPython 3.11 on an unloaded ~3 GHz core: about 0.2 s.)
    r0 = time.process_time()
    acc = 0
    for i in range(5_000_000):
        acc += i
    reference_cpu_s = time.process_time() - r0
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    # What runner._match_day runs: the day's payments are read in a background thread while the
    # bill is parsed (streamed from the archive), then matched. ``parsed`` marks the end of the parse.
    stamps: dict[str, float] = {}
    bill, _refunds, result = day_match.match_archived(
        engine, directory / "bill.csv.gz", DAY, Channel.WECHAT, timings=stamps
    )
    t3, c3 = time.perf_counter(), time.process_time()
    t1 = stamps["parsed"]
    kinds: dict[str, int] = {}
    for item in result.items:
        kinds[item.kind.value] = kinds.get(item.kind.value, 0) + 1
    with sqlite3.connect(directory / "ledger.sqlite3") as conn:
        ledger_rows = conn.execute("SELECT count(*) FROM payments").fetchone()[0]
    return {
        "bill_rows": len(bill),
        "ledger_rows": ledger_rows,
        "parse_s": round(t1 - t0, 3),  # the ledger is read meanwhile, in a thread
        "load_match_s": round(t3 - t1, 3),  # the rest of the ledger read, then the match
        "total_s": round(t3 - t0, 3),
        "total_cpu_s": round(c3 - c0, 3),
        "reference_cpu_s": round(reference_cpu_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "baseline_rss_mb": round(base_mb, 1),
        "matched": result.matched,
        "items": dict(sorted(kinds.items())),
    }


def check(n: int, figures: dict[str, object]) -> None:
    """The result must be exactly right (a fast wrong answer is no answer)."""
    want = expected(n)
    got = {key: figures[key] for key in want}
    assert got == want, f"{n} rows: got {got}, expected {want}"


def run(n: int, workdir: Path) -> dict[str, Any]:
    directory = workdir / str(n)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, __file__, "--generate", str(n), str(directory)], check=True, env=env)
    # The generator's ~300 MB are still being written back to disk: let that finish first, or the
    # measured run competes with the kernel's writeback (measured: +0.7 s at 1M rows).
    os.sync()
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(directory)], check=True, env=env, capture_output=True, text=True
    )
    figures: dict[str, Any] = json.loads(out.stdout)
    check(n, figures)
    return figures


def main() -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100_000, 1_000_000):
            figures = run(n, Path(tmp))
            results.append(figures)
            print(json.dumps({"rows": n, **figures}, ensure_ascii=False))
    small, big = results
    print(
        f"100k rows: {small['total_s']:.2f} s wall, {small['total_cpu_s']:.2f} s CPU  |  "
        f"1M rows: {big['total_s']:.2f} s wall, {big['total_cpu_s']:.2f} s CPU (parse {big['parse_s']:.2f} s "
        f"while the ledger is read, then the rest of the read & match {big['load_match_s']:.2f} s), "
        f"peak RSS {big['peak_rss_mb']:.0f} MB  |  "
        f"growth x{big['total_cpu_s'] / small['total_cpu_s']:.1f} for x10 rows  |  reference loop "
        f"{big['reference_cpu_s']:.2f} s CPU (≈0.2 s on an unloaded 3 GHz core)"
    )
    return results


def test_reconcile_benchmark() -> None:
    _, big = main()  # main() already checked every count of both sizes
    assert big["total_s"] <= LIMIT_S
    assert big["peak_rss_mb"] <= LIMIT_MB


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(int(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]))))
    else:
        main()
