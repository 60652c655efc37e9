"""A phone in headless Chromium: a wallet's User-Agent, a phone viewport and the wallet's JS bridge.

For tests (and README screenshots) that must run a page's *own* script, e.g. the engine's one-QR pay
page::

    with phone_browser("wechat", sandbox_url, choice="pay") as driver:
        driver.get(qr_url)                       # OAuth redirects, then the pay page and its script
        driver.save_screenshot("phone.png")

The bridge is :func:`pos_app.sandbox.phone.bridge_js.bridge_script`, injected into every document
before it loads; it answers through the sandbox's bridge-check endpoint. Uses Debian's
/usr/bin/chromium and /usr/bin/chromedriver.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from pos_app.sandbox.phone.bridge_js import bridge_script
from pos_app.sandbox.phone.scan import USER_AGENTS

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE_VIEWPORT = {"width": 390, "height": 844, "pixelRatio": 3}


@contextmanager
def phone_browser(
    app: str, sandbox_url: str, *, user: str = "demo-user", choice: str = "pay", quirk: str = "none"
) -> Iterator[webdriver.Chrome]:
    """Headless Chromium posing as ``app`` ("wechat" or "alipay") on a phone, its bridge in place."""
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE_VIEWPORT, "userAgent": USER_AGENTS[app]})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        script = bridge_script(app, sandbox_url, user=user, choice=choice, quirk=quirk)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
        yield driver
    finally:
        driver.quit()
