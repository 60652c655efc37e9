"""TUI latency benchmark against the local sandbox (real `pos sandbox serve` + `pos engine serve`).

    .venv/bin/python -m tests.bench.bench_tui [--sales 40] [--key w|q]

Measures, over many sales:
- key → QR: from the key that asks for a WeChat QR (``--key q``: the one code for every wallet) to
  the QR rendered on screen (intent committed to the journal, order created at the engine and the
  sandbox gateway — for the one code, at the engine alone —, the code's widget rendered by the
  compositor — not merely mounted);
- paid → PAID: from the sandbox marking the order paid (its /sandbox/pay answer) to PAID on screen
  (gateway notification → engine → event stream → journal → screen);
- cold start: `pos` in a real terminal (tmux) to the login screen and, after the PIN, the checkout.
Targets: key → QR p95 ≤ 100 ms, paid → PAID p95 ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pos_app.config import load_settings
from pos_app.journal import add_staff, open_journal, session_scope
from pos_app.sandbox.demo import init_demo_profile
from pos_app.sandbox.phone import scan
from pos_app.tui.app import make_app
from pos_app.tui.widgets.qr_view import QrView
from tests.tui.support import start_stack


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"{name:<14} n={len(ms):<3} p50={pct(ms, 0.5):7.1f} ms  p95={pct(ms, 0.95):7.1f} ms  "
        f"max={max(ms):7.1f} ms  mean={statistics.fmean(ms):7.1f} ms"
    )


async def until(pilot, predicate, timeout: float = 10.0) -> float:
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"waited {timeout}s on {type(pilot.app.screen).__name__}")
        await asyncio.sleep(0.002)
    return time.perf_counter()


async def sales_latency(sales: int, key: str = "w") -> tuple[list[float], list[float]]:
    from textual import events  # after pos_app.tui (its TEXTUAL_FPS applies only if it comes first)

    home = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    profile = init_demo_profile(home / "profile")
    base = load_settings(profile.config)
    stack_gen = start_stack(base)
    stack = next(stack_gen)
    try:
        settings = stack.terminal_settings(home)
        journal = open_journal(settings.path(settings.terminal.journal_path))
        with session_scope(journal) as session:
            add_staff(session, "Bench Cashier", "1234", "cashier", terminal_id=settings.terminal.terminal_id)
        client = await stack.activated_client(settings)
        app = make_app(settings, engine_client=client, journal_engine=journal)
        to_qr: list[float] = []
        to_paid: list[float] = []
        async with (
            httpx.AsyncClient(base_url=stack.sandbox_url, limits=httpx.Limits(max_keepalive_connections=0)) as sandbox,
            app.run_test(size=(80, 24)) as pilot,
        ):
            await pilot.press(*"1234", "enter")
            await until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen")
            await asyncio.sleep(1.0)  # let the event stream connect
            for n in range(sales):
                await pilot.press(*str(100 + n))
                # The key is delivered the way a terminal delivers it, not with ``pilot.press``: Pilot
                # waits until the whole process is idle (CPU-time heuristics, up to 1 s) before it
                # returns, which would add its own waiting to the figure.
                start = time.perf_counter()
                app.post_message(events.Key(key, key))
                await until(pilot, lambda: any(qr.painted for qr in app.screen.query(QrView)))
                # The moment the frame with the whole code was rendered (not when this loop noticed).
                [painted_at] = [qr.painted_at for qr in app.screen.query(QrView) if qr.painted_at]
                to_qr.append(painted_at - start)
                qr_screen = app.screen
                view = qr_screen.attempt.view
                if key == "q":
                    # The one code is paid by the simulated phone (its PAID often beats the phone's
                    # own return): only key → QR is measured for it.
                    await scan(view.code_url, app="wechat")
                    await until(pilot, lambda s=qr_screen: s.done)
                    await until(pilot, lambda: type(app.screen).__name__ == "ResultScreen")
                    await pilot.press("enter")
                    await until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen")
                    continue
                response = await sandbox.post("/sandbox/pay", json={"qr": view.code_url})
                paid_at = time.perf_counter()
                if response.status_code != 200:
                    raise RuntimeError(f"sale {n}: the sandbox refused to pay {view!r}: {response.text}")
                # PAID is first shown on the QR screen itself, then the receipt screen replaces it.
                end = await until(pilot, lambda s=qr_screen: s.done)
                to_paid.append(end - paid_at)
                await until(pilot, lambda: type(app.screen).__name__ == "ResultScreen")
                await pilot.press("enter")
                await until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen")
        await client.aclose()
        journal.dispose()
    finally:
        for _ in stack_gen:
            pass
        shutil.rmtree(home, ignore_errors=True)
    return to_qr, to_paid


def capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout


def cold_start(runs: int) -> tuple[list[float], list[float], float]:
    """`pos` in tmux: to the login screen and to checkout, with the engine already up; plus one
    fresh embedded-default start (profile, keys, children, activation) to checkout."""
    if shutil.which("tmux") is None:
        return [], [], float("nan")
    python = sys.executable
    home = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    session = f"bench-tui-{os.getpid()}"

    def run_once(env_home: Path, timeout: float) -> tuple[float, float]:
        start = time.perf_counter()
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
             f"POS_HOME={env_home} {python} -m pos_app"],
            check=True,
        )  # fmt: skip
        try:
            # The sign-in screen asks for a name or just the PIN (digits typed into the name go to the PIN).
            while "just your PIN" not in capture(session):
                if time.perf_counter() - start > timeout:
                    raise TimeoutError(capture(session))
                time.sleep(0.02)
            login = time.perf_counter() - start
            subprocess.run(["tmux", "send-keys", "-t", session, "1234", "Enter"], check=True)
            while "Checkout" not in capture(session):
                if time.perf_counter() - start > timeout:
                    raise TimeoutError(capture(session))
                time.sleep(0.02)
            checkout = time.perf_counter() - start
        finally:
            subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=False)
            time.sleep(1.5)
            subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
        return login, checkout

    try:
        _, embedded = run_once(home / "fresh", 120)
        profile = init_demo_profile(home / "warm")
        settings = load_settings(profile.config)
        gen = start_stack(settings)
        stack = next(gen)
        try:
            from pos_app.commands.terminal import activate, seed_demo_staff
            from pos_app.launcher import run_pos

            code = run_pos(settings.home, ["engine", "activation-code"]).strip().splitlines()[-1]
            activate(settings, code)
            seed_demo_staff(settings)
            logins, checkouts = [], []
            for _ in range(runs):
                login, checkout = run_once(settings.home, 60)
                logins.append(login)
                checkouts.append(checkout)
        finally:
            for _ in gen:
                pass
            del stack
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return logins, checkouts, embedded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sales", type=int, default=40)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--key", choices=["w", "q"], default="w", help="w: WeChat's own QR; q: the one code")
    args = parser.parse_args()
    to_qr, to_paid = asyncio.run(sales_latency(args.sales, args.key))
    print(report("key → QR", to_qr))
    if to_paid:
        print(report("paid → PAID", to_paid))
    logins, checkouts, embedded = cold_start(args.cold_runs)
    if logins:
        print(report("cold → login", logins))
        print(report("cold → checkout", checkouts))
        print(f"embedded default, fresh machine → checkout: {embedded:.2f} s")


if __name__ == "__main__":
    main()
