"""The one-QR pages in a real headless chromium (Debian's chromium + chromedriver, via selenium): the
engine and the sandbox served by uvicorn on their loopback ports, the browser's User-Agent set to
WeChat's, and a fake ``WeixinJSBridge`` injected before the page's own script runs. The page must hand
its bridge data to the bridge and POST the wallet's answer to its result URL; the engine, which never
believes the phone, answers from the gateway ("still confirming": nothing was paid)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from api_support import STORE, TERMINAL, Stack

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import PaymentMode

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WECHAT_UA = "Mozilla/5.0 (Linux; Android 14) Mobile MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN"
PLAIN_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120 Safari/537.36"
FAKE_BRIDGE = """
window.__posCalls = [];
window.WeixinJSBridge = { invoke: function (name, pay, cb) {
  window.__posCalls.push({ name: name, pay: pay });
  setTimeout(function () { cb({ err_msg: "get_brand_wcpay_request:ok" }); }, 10);
} };
"""
_seq = itertools.count(500)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="Debian's chromium and chromedriver are not installed"
)


@contextlib.asynccontextmanager
async def serve(app: Any, url: str) -> AsyncIterator[None]:
    """Serve an already-started ASGI app on the loopback port of ``url`` (the profile's own port)."""
    parts = urlsplit(url)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=parts.port or 80, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=5)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=390,844"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


async def wait_until(check: Any, what: str, timeout: float = 20) -> Any:
    """Poll ``check`` (a blocking call, run in a thread) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_wechat_page_hands_the_bridge_its_data_and_reports_back(
    stack: Stack, client: EngineClient, browser: Any
) -> None:
    otn = make_trade_no(IdKind.PAYMENT, store=STORE, terminal=TERMINAL, seq=next(_seq), at=datetime.now())
    view = await client.create_payment(
        CreatePayment(out_trade_no=otn, amount_fen=2300, mode=PaymentMode.ONE_QR, subject="Noodles", operator="al")
    )
    assert view.code_url is not None
    settings = stack.settings
    await asyncio.to_thread(
        browser.execute_cdp_cmd, "Network.setUserAgentOverride", {"userAgent": WECHAT_UA, "acceptLanguage": "en"}
    )
    await asyncio.to_thread(browser.execute_cdp_cmd, "Page.addScriptToEvaluateOnNewDocument", {"source": FAKE_BRIDGE})
    async with serve(stack.engine, settings.engine.public_url), serve(stack.sandbox, settings.wechatpay.oauth_url):
        # The browser follows the whole round trip: engine → sandbox authorize → engine pay page.
        await asyncio.to_thread(browser.get, view.code_url)
        calls = await wait_until(lambda: browser.execute_script("return window.__posCalls"), "the bridge call")
        status = await wait_until(
            lambda: (lambda t: t if "confirming" in t else None)(browser.find_element("id", "pos-status").text),
            "the engine's answer on the page",
        )
        if os.environ.get("POS_SCREENSHOTS"):
            await asyncio.to_thread(browser.save_screenshot, os.environ["POS_SCREENSHOTS"] + "/one-qr-phone.png")
    assert calls[0]["name"] == "getBrandWCPayRequest"
    pay = calls[0]["pay"]
    assert set(pay) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert pay["package"].startswith("prepay_id=") and pay["signType"] == "RSA"
    assert "Still confirming" in status  # the phone said ok; the gateway says not paid: not believed
    assert (await client.get_payment(otn)).state.value == "AWAITING_SCAN"


async def test_a_plain_browser_gets_the_open_with_a_wallet_page(
    stack: Stack, client: EngineClient, browser: Any
) -> None:
    otn = make_trade_no(IdKind.PAYMENT, store=STORE, terminal=TERMINAL, seq=next(_seq), at=datetime.now())
    view = await client.create_payment(
        CreatePayment(out_trade_no=otn, amount_fen=990, mode=PaymentMode.ONE_QR, subject="Tea", operator="al")
    )
    assert view.code_url is not None
    await asyncio.to_thread(
        browser.execute_cdp_cmd, "Network.setUserAgentOverride", {"userAgent": PLAIN_UA, "acceptLanguage": "en"}
    )
    async with serve(stack.engine, stack.settings.engine.public_url):
        await asyncio.to_thread(browser.get, view.code_url)
        heading = await wait_until(lambda: browser.find_element("tag name", "h1").text, "the page")
    assert heading == "Open with WeChat or Alipay"
    assert (await client.get_payment(otn)).channel is None
