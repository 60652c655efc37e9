"""Benchmark: a 1,000,000-row WeChat Pay bill matched against a 1,000,000-payment ledger.

Target: ≤ 5 s and ≤ 500 MB peak memory. Each size runs in a fresh subprocess (peak RSS =
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that process, which only parses, loads and matches:
the files are generated beforehand by another subprocess). The 100,000-row run is printed beside
it to show the growth is linear.

Phases timed: parse (streamed from the archived ``.csv.gz``), ledger load (a real SQLite ledger with
the engine's schema, streamed from the driver cursor by ``sources.iter_ledger_payments`` straight into
``match_channel``).
The data carries 0.1 % differences of every kind so the slow paths run too.

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


def _otn(i: int) -> str:
    return f"P261121{(i // 60) % 24:02d}{i % 60:02d}00S00001T{i % 10:03d}{i:08d}"


def generate(n: int, directory: Path) -> None:
    """Write the bill archive and a ledger of n payments (every 1000th row differs in some way)."""
    directory.mkdir(parents=True, exist_ok=True)
    settle = fee = 0
    with gzip.open(directory / "bill.csv.gz", "wt", encoding="utf-8", newline="", compresslevel=1) as out:
        out.write(HEADER + "\r\n")
        for i in range(n):
            amount = 100 + (i * 37) % 50_000
            if i % 1000 == 1:
                amount += 1  # amount altered in the bill
            if i % 1000 == 2:
                continue  # missing at the provider
            f = amount * 6
            settle += amount
            fee += f
            out.write(
                f"`2026-11-21 {(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d},`wxd930ea5d5a258f4f,"
                f"`1900000109,`0,`T001,`42000000012026112{i:011d},`{_otn(i)},`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,"
                f"`MICROPAY,`SUCCESS,`OTHERS,`CNY,`{_y(amount)},`0.00,`0,`0,`0.00,`0.00,`,`,`商品,`,"
                f"`{f // 100000}.{f % 100000:05d},`0.60%,`{_y(amount)},`0.00,`\r\n"
            )
        rows = n - len(range(2, n, 1000))
        out.write(SUMMARY + "\r\n")
        out.write(f"`{rows},`{_y(settle)},`0.00,`0.00,`{fee // 100000}.{fee % 100000:05d},`{_y(settle)},`0.00\r\n")

    from pos_app.engine.store import open_ledger

    url = f"sqlite:///{directory / 'ledger.sqlite3'}"
    open_ledger(url).dispose()
    conn = sqlite3.connect(directory / "ledger.sqlite3")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA journal_mode=OFF")
    paid_at = datetime(2026, 11, 21, 2, 0, tzinfo=UTC).replace(tzinfo=None).isoformat(sep=" ")

    def rows_() -> object:
        for i in range(n):
            state = "UNKNOWN" if i % 1000 == 3 else "PAID"  # the bill proves these paid
            yield (
                _otn(i), f"T{i % 10:03d}", "S00001", "wechat", "micropay", 100 + (i * 37) % 50_000, "商品",
                "cashier", state, DAY.isoformat(), 0, 0, 0, 0, 1, paid_at, paid_at,
                paid_at if state == "PAID" else None,
            )  # fmt: skip

    conn.executemany(
        "INSERT INTO payments (out_trade_no, terminal_id, store_id, channel, mode, amount_fen, subject, operator,"
        " state, business_day, refunded_fen, needs_attention, cancel_requested, failed_checks, version,"
        " created_at, updated_at, paid_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows_(),  # type: ignore[arg-type]
    )
    conn.commit()
    conn.close()


def measure(directory: Path) -> dict[str, float]:
    """Parse + load + match in this (fresh) process; returns timings and peak RSS."""
    from pos_app.domain.routing import Channel
    from pos_app.engine.reconcile import sources
    from pos_app.engine.reconcile.matcher import match_channel
    from pos_app.engine.reconcile.wechat_bill import parse_wechat_bill_file
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
    bill = parse_wechat_bill_file(directory / "bill.csv.gz", bill_date=DAY)
    t1, c1 = time.perf_counter(), time.process_time()
    # The ledger is streamed from the database cursor straight through the matcher.
    result = match_channel(bill, sources.iter_ledger_payments(engine, DAY, Channel.WECHAT), [])
    t3, c3 = time.perf_counter(), time.process_time()
    kinds: dict[str, int] = {}
    for item in result.items:
        kinds[item.kind.value] = kinds.get(item.kind.value, 0) + 1
    return {
        "bill_rows": len(bill),
        "ledger_rows": result.matched + len(result.open_items),  # each open item here is one ledger row
        "parse_s": round(t1 - t0, 3),
        "load_match_s": round(t3 - t1, 3),
        "total_s": round(t3 - t0, 3),
        "parse_cpu_s": round(c1 - c0, 3),
        "load_match_cpu_s": round(c3 - c1, 3),
        "total_cpu_s": round(c3 - c0, 3),
        "reference_cpu_s": round(reference_cpu_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "baseline_rss_mb": round(base_mb, 1),
        "matched": result.matched,
        "items": kinds,  # type: ignore[dict-item]
    }


def run(n: int, workdir: Path) -> dict[str, float]:
    directory = workdir / str(n)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run([sys.executable, __file__, "--generate", str(n), str(directory)], check=True, env=env)
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(directory)], check=True, env=env, capture_output=True, text=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> list[dict[str, float]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100_000, 1_000_000):
            figures = run(n, Path(tmp))
            results.append(figures)
            print(json.dumps({"rows": n, **figures}, ensure_ascii=False))
    small, big = results
    print(
        f"100k rows: {small['total_s']:.2f} s wall, {small['total_cpu_s']:.2f} s CPU  |  "
        f"1M rows: {big['total_s']:.2f} s wall, {big['total_cpu_s']:.2f} s CPU (parse {big['parse_cpu_s']:.2f} + "
        f"ledger stream & match {big['load_match_cpu_s']:.2f}), peak RSS {big['peak_rss_mb']:.0f} MB  |  "
        f"growth x{big['total_cpu_s'] / small['total_cpu_s']:.1f} for x10 rows  |  reference loop "
        f"{big['reference_cpu_s']:.2f} s CPU (≈0.2 s on an unloaded 3 GHz core)"
    )
    return results


def test_reconcile_benchmark() -> None:
    _, big = main()
    assert big["bill_rows"] == 999_000 and big["ledger_rows"] == 1_000_000
    assert big["items"] == {"amount_differs": 1000, "missing_at_provider": 1000, "settled_from_bill": 1000}
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
