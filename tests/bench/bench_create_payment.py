"""Benchmark: create-payment latency, terminal client -> engine -> local sandbox, real loopback HTTP.

Starts `pos sandbox serve` and `pos engine serve` from a fresh demo profile, activates a terminal with
`pos engine activation-code`, then times `EngineClient.create_payment` one call at a time for native
orders (WeChat and Alipay) and for password-free micropay (the call returns the final PAID state).

    .venv/bin/python tests/bench/bench_create_payment.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pos_app.api.client import EngineClient  # noqa: E402
from pos_app.api.schemas import CreatePayment  # noqa: E402
from pos_app.config import load_settings  # noqa: E402
from pos_app.domain.ids import IdKind, make_trade_no  # noqa: E402
from pos_app.domain.routing import Channel, PaymentMode  # noqa: E402
from pos_app.domain.states import PaymentState  # noqa: E402
from pos_app.sandbox.demo import init_demo_profile  # noqa: E402

POS = [sys.executable, "-m", "pos_app"]


def start(args: list[str], env: dict[str, str], log: Path, health: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([*POS, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{args} did not come up")


def report(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    mean = statistics.mean(ordered) * 1000
    print(f"{name:<22} n={len(ordered):4d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  mean {mean:7.1f} ms")


async def run(engine_url: str, sandbox_url: str, code: str, n: int) -> None:
    seq = iter(range(1, 10**7))

    def trade_no() -> str:
        return make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=next(seq), at=datetime.now())

    async with EngineClient(engine_url, "T001", None) as client, httpx.AsyncClient(base_url=sandbox_url) as sandbox:
        await client.activate(code, "S00001", "T001", "Bench till")
        for channel in (Channel.WECHAT, Channel.ALIPAY):
            latencies = []
            for _ in range(n):
                request = CreatePayment(
                    out_trade_no=trade_no(), amount_fen=1234, mode=PaymentMode.NATIVE, channel=channel,
                    subject="Bench", operator="bench",
                )  # fmt: skip
                started = time.perf_counter()
                view = await client.create_payment(request)
                latencies.append(time.perf_counter() - started)
                assert view.state is PaymentState.AWAITING_SCAN, view
            report(f"native {channel.value}", latencies)
        for channel in ("wechat", "alipay"):
            latencies = []
            for _ in range(n):
                auth_code = (await sandbox.post("/sandbox/authcodes", json={"channel": channel})).json()["auth_code"]
                request = CreatePayment(
                    out_trade_no=trade_no(), amount_fen=880, mode=PaymentMode.MICROPAY, auth_code=auth_code,
                    subject="Bench", operator="bench",
                )  # fmt: skip
                started = time.perf_counter()
                view = await client.create_payment(request)
                latencies.append(time.perf_counter() - started)
                assert view.state is PaymentState.PAID, view
            report(f"micropay {channel} (PAID)", latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="payments per kind")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pos-bench-create-"))
    profile = init_demo_profile(work / "home")
    settings = load_settings(profile.config)
    # One till sending back to back, faster than any cashier: the per-terminal rate limit is off here
    # (it has its own tests), so the figures are the latency of a create, not of waiting out a 429.
    env = {**os.environ, "POS_HOME": str(profile.home), "POS_ENGINE__RATE_LIMIT": ""}
    sandbox_url = f"http://{settings.sandbox.listen}"
    engine_url = settings.terminal.engine_url
    sandbox = start(["sandbox", "serve"], env, work / "sandbox.log", f"{sandbox_url}/healthz")
    engine = start(["engine", "serve", "--log-level", "warning"], env, work / "engine.log", f"{engine_url}/healthz")
    try:
        code = subprocess.run(
            [*POS, "engine", "activation-code"], env=env, capture_output=True, check=True, text=True
        ).stdout.strip()
        asyncio.run(run(engine_url, sandbox_url, code, args.n))
    finally:
        for process in (engine, sandbox):
            process.terminate()
            process.wait(timeout=20)
    print(f"[work dir {work}]")


if __name__ == "__main__":
    main()
