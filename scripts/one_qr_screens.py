"""Capture the one-code and store-QR screens at 80×24 in tmux, and the phone's page in headless
chromium (390×844, WeChat's User-Agent), for the README.

    .venv/bin/python scripts/one_qr_screens.py [--language zh_CN|en] [--assets DIR]

Starts the embedded default in a fresh profile under tmux (as scripts/screens.py does), signs in,
types 23.40 and presses Q (the one code), lets the sandbox phone open it in WeChat and cancel (the
till says "Opened in WeChat"), pays it, then has a customer pay ¥23.00 on the till's store QR. Prints
each screen as a fenced block; writes assets/phone-one-qr.png and assets/phone-store-qr.png.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient
from pos_app.config import Settings, load_settings
from pos_app.domain.routing import PaymentMode
from pos_app.journal import Sale, open_journal, session_scope
from pos_app.sandbox.phone import scan


def _tmux_class() -> Any:
    """scripts/screens.py's Tmux (the scripts folder is not a package)."""
    spec = importlib.util.spec_from_file_location("screens", Path(__file__).with_name("screens.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Tmux


PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.50(0x1800322d) NetType/WIFI Language/zh_CN"
)


def client_of(settings: Settings) -> EngineClient:
    key = decode_key(settings.path(settings.terminal.terminal_key_file).read_text("utf-8"))
    return EngineClient(settings.terminal.engine_url, settings.terminal.terminal_id, key)


def last_one_qr_order(settings: Settings) -> str:
    engine = open_journal(settings.path(settings.terminal.journal_path))
    try:
        with session_scope(engine) as session:
            statement = select(Sale).where(Sale.mode == PaymentMode.ONE_QR).order_by(col(Sale.id).desc())
            return session.exec(statement).first().out_trade_no  # type: ignore[union-attr]
    finally:
        engine.dispose()


async def page_url(settings: Settings, out_trade_no: str) -> str:
    async with client_of(settings) as client:
        view = await client.get_payment(out_trade_no)
    assert view.code_url, "the one-code order has no page URL"
    return view.code_url


async def store_url(settings: Settings) -> str:
    async with client_of(settings) as client:
        return (await client.store_code()).url


def phone_screenshot(url: str, out: Path, *, amount: str | None = None, language: str = "en") -> None:
    """The page as a phone shows it: headless chromium, 390×844, WeChat's User-Agent."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(argument)
    options.add_argument(f"--user-agent={PHONE_UA}")
    options.add_argument("--lang=" + ("zh-CN" if language == "zh_CN" else "en-US"))
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}, "userAgent": PHONE_UA}
    )
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        time.sleep(1.5)
        if amount is not None:
            field = driver.find_element(By.NAME, "amount")
            field.send_keys(amount)
        time.sleep(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="en", choices=["en", "zh_CN"])
    parser.add_argument("--assets", type=Path, default=Path(__file__).resolve().parents[1] / "assets")
    args = parser.parse_args()
    chinese = args.language == "zh_CN"
    home = Path(tempfile.mkdtemp(prefix="pos-one-qr-"))
    env = {"POS_HOME": str(home), "POS_TERMINAL__LANGUAGE": args.language, "TERM": "xterm-256color"}
    tmux = _tmux_class()(f"pos-one-qr-{os.getpid()}", f"{sys.executable} -m pos_app", env)
    shots: list[tuple[str, str]] = []
    try:
        tmux.wait_for("PIN", "SANDBOX", timeout=180)
        tmux.type("1234")
        tmux.keys("Enter")
        tmux.wait_for("收银" if chinese else "Checkout")
        settings = load_settings(home / "pos.toml")
        tmux.type("23.40")
        tmux.type("q")
        shots.append(("One code for every wallet", tmux.wait_for("微信或支付宝" if chinese else "Scan with", "P2")))
        url = asyncio.run(page_url(settings, last_one_qr_order(settings)))
        phone_screenshot(url, args.assets / "phone-one-qr.png", language=args.language)
        asyncio.run(scan(url, app="wechat", choice="cancel"))
        opened = tmux.wait_for("微信中" if chinese else "Opened in WeChat")
        shots.append(("Opened in WeChat (the customer cancelled on the phone)", opened))
        asyncio.run(scan(url, app="wechat"))
        shots.append(("Paid", tmux.wait_for("23.40", timeout=30)))
        tmux.keys("Enter")
        time.sleep(1.0)
        code = asyncio.run(store_url(settings))
        phone_screenshot(code, args.assets / "phone-store-qr.png", amount="23.00", language=args.language)
        asyncio.run(scan(code, app="wechat", amount_fen=2300))
        shots.append(("A customer paid the store QR", tmux.wait_for("23.00", timeout=30)))
    finally:
        tmux.keys("C-q")
        time.sleep(2.0)
        tmux.close()
    for title, screen in shots:
        print(f"{title}:\n\n```\n{screen.rstrip()}\n```\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
