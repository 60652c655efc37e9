"""Drive a bare till install (``pip install pos-app``, no extras) headless against a running engine.

Run by ``scripts/check-wheel`` with the bare install's Python, beside ``pos sandbox serve`` and
``pos engine serve`` of a ``pos-app[all]`` install on the same profile. The till signs in, takes a cash
sale and a WeChat QR sale that the sandbox's customer pays, and must never load an engine library.

Usage: python scripts/smoke_till.py PROFILE_DIR ACTIVATION_CODE
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient
from pos_app.commands.terminal import activate, seed_demo_staff
from pos_app.config import CONFIG_NAME, Settings, load_settings
from pos_app.domain.states import PaymentState
from pos_app.journal import Sale, open_journal, session_scope
from pos_app.tui.app import make_app

SIZE = (100, 30)
ENGINE_LIBRARIES = ("fastapi", "starlette", "uvicorn", "pyarrow", "psycopg", "escpos", "openpyxl", "cryptography")


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become healthy in {timeout_s:.0f} s")


async def wait_until(pilot: Any, predicate: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what} (screen {type(pilot.app.screen).__name__})")
        await pilot.pause(0.05)


def sales(settings: Settings) -> list[Sale]:
    engine = open_journal(settings.path(settings.terminal.journal_path))
    try:
        with session_scope(engine) as session:
            return list(session.exec(select(Sale).order_by(Sale.id)).all())
    finally:
        engine.dispose()


async def code_url_of(settings: Settings, out_trade_no: str) -> str:
    """The QR the till shows, asked of the engine as the till itself would (its key, its API client)."""
    key = decode_key(settings.path(settings.terminal.terminal_key_file).read_text("ascii"))
    async with EngineClient(settings.terminal.engine_url, settings.terminal.terminal_id, key) as client:
        for _ in range(100):
            view = await client.get_payment(out_trade_no)
            if view.code_url:
                return view.code_url
            await asyncio.sleep(0.1)
    raise SystemExit(f"{out_trade_no} never got a QR code")


async def drive(settings: Settings) -> None:
    app = make_app(settings)
    screen = lambda: type(app.screen).__name__  # noqa: E731 - read at each poll
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: screen() == "CheckoutScreen", "checkout after sign-in")
        await pilot.press("5", "c")
        await wait_until(pilot, lambda: screen() == "CashScreen", "the cash screen")
        await pilot.press("1", "0", "enter")
        await wait_until(pilot, lambda: screen() == "ResultScreen", "the cash sale's receipt")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen() == "CheckoutScreen", "checkout for the next sale")
        await pilot.press("8", "w")
        await wait_until(pilot, lambda: len(sales(settings)) == 2, "the QR sale's intent in the journal")
        out_trade_no = sales(settings)[1].out_trade_no
        code_url = await code_url_of(settings, out_trade_no)
        sandbox = f"http://{settings.sandbox.listen}"
        response = httpx.post(f"{sandbox}/sandbox/pay", json={"qr": code_url}, timeout=10.0)
        response.raise_for_status()
        await wait_until(pilot, lambda: screen() == "ResultScreen", "PAID after the customer paid the QR")
    cash, wallet = sales(settings)
    problems = []
    if (cash.channel, cash.state, cash.amount_fen) != ("cash", PaymentState.PAID, 500):
        problems.append(f"cash sale is {cash.channel} {cash.state} {cash.amount_fen}")
    if (wallet.out_trade_no, wallet.state, wallet.amount_fen) != (out_trade_no, PaymentState.PAID, 800):
        problems.append(f"QR sale is {wallet.state} {wallet.amount_fen}")
    loaded = [name for name in ENGINE_LIBRARIES if name in sys.modules]
    if loaded:
        problems.append(f"the till loaded engine libraries: {loaded}")
    if problems:
        raise SystemExit("; ".join(problems))


def main() -> None:
    profile, code = Path(sys.argv[1]), sys.argv[2]
    settings = load_settings(profile / CONFIG_NAME)
    wait_healthy(f"http://{settings.sandbox.listen}")
    wait_healthy(settings.terminal.engine_url.rstrip("/"))
    activate(settings, code)
    seed_demo_staff(settings)
    asyncio.run(drive(settings))
    print("ok: the bare till signed in, took a cash sale and a WeChat QR sale paid by the sandbox")


if __name__ == "__main__":
    main()
