"""Benchmark: the one-QR pages as a phone sees them, real processes on loopback sockets.

Starts `pos sandbox serve` and `pos engine serve` from a fresh demo profile, activates a terminal,
then prints the weight of what a phone downloads (each page and pay.js, raw and gzipped) and the
medians of: the till's one-QR create, a plain browser's GET of the page, and a whole WeChat / Alipay
scan by the sandbox's simulated phone (scan → sign-in round trip → gateway order → pay page → bridge
→ "check now" answered PAID), beside a native create for scale.

    .venv/bin/python tests/bench/bench_one_qr_pages.py [--n 30]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
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
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from bench_create_payment import POS, report, start  # noqa: E402

from pos_app.api.client import EngineClient  # noqa: E402
from pos_app.api.schemas import CreatePayment  # noqa: E402
from pos_app.config import load_settings  # noqa: E402
from pos_app.domain.ids import IdKind, make_trade_no  # noqa: E402
from pos_app.domain.routing import Channel, PaymentMode  # noqa: E402
from pos_app.sandbox.demo import init_demo_profile  # noqa: E402
from pos_app.sandbox.phone.scan import USER_AGENTS, scan  # noqa: E402


def weight(name: str, body: bytes) -> None:
    print(f"{name:<22} {len(body):6d} B raw  {len(gzip.compress(body, 6)):6d} B gzip")


async def run(engine_url: str, code: str, n: int) -> None:
    seq = iter(range(1, 10**7))

    def request(mode: PaymentMode, channel: Channel | None = None) -> CreatePayment:
        otn = make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=next(seq), at=datetime.now())
        return CreatePayment(
            out_trade_no=otn, amount_fen=2300, mode=mode, channel=channel, subject="Bench", operator="bench"
        )

    async with EngineClient(engine_url, "T001", None) as client, httpx.AsyncClient() as browser:
        await client.activate(code, "S00001", "T001", "Bench till")
        view = await client.create_payment(request(PaymentMode.ONE_QR))
        assert view.code_url is not None
        plain = await browser.get(view.code_url, headers={"User-Agent": USER_AGENTS["browser"]})
        weight("plain page", plain.content)
        weight("pay.js", (await browser.get(engine_url + "/p/pay.js")).content)
        outcome = await scan(view.code_url, app="wechat")
        assert outcome.result and outcome.result["state"] == "PAID", outcome.steps

        creates, native, opens = [], [], []
        for _ in range(n):
            started = time.perf_counter()
            view = await client.create_payment(request(PaymentMode.ONE_QR))
            creates.append(time.perf_counter() - started)
            started = time.perf_counter()
            await client.create_payment(request(PaymentMode.NATIVE, Channel.WECHAT))
            native.append(time.perf_counter() - started)
            assert view.code_url is not None
            started = time.perf_counter()
            await browser.get(view.code_url, headers={"User-Agent": USER_AGENTS["browser"]})
            opens.append(time.perf_counter() - started)
        report("create one_qr", creates)
        report("create native wechat", native)
        report("plain page GET", opens)
        for app in ("wechat", "alipay"):
            scans = []
            for _ in range(n):
                view = await client.create_payment(request(PaymentMode.ONE_QR))
                assert view.code_url is not None
                started = time.perf_counter()
                outcome = await scan(view.code_url, app=app)  # type: ignore[arg-type]
                scans.append(time.perf_counter() - started)
                assert outcome.result and outcome.result["state"] == "PAID", outcome.steps
            report(f"whole scan {app}", scans)
        ratio = statistics.median(creates) / statistics.median(native)
        print(f"one_qr create / native create (medians): {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="rounds per figure")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pos-bench-one-qr-"))
    profile = init_demo_profile(work / "home")
    settings = load_settings(profile.config)
    env = {**os.environ, "POS_HOME": str(profile.home), "POS_ENGINE__RATE_LIMIT": ""}
    sandbox_url = f"http://{settings.sandbox.listen}"
    engine_url = settings.terminal.engine_url
    sandbox = start(["sandbox", "serve"], env, work / "sandbox.log", f"{sandbox_url}/healthz")
    engine = start(["engine", "serve", "--log-level", "warning"], env, work / "engine.log", f"{engine_url}/healthz")
    try:
        code = subprocess.run(
            [*POS, "engine", "activation-code"], env=env, capture_output=True, check=True, text=True
        ).stdout.strip()
        asyncio.run(run(engine_url, code, args.n))
    finally:
        for process in (engine, sandbox):
            process.terminate()
            process.wait(timeout=20)
    print(f"[work dir {work}]")


if __name__ == "__main__":
    main()
