"""The simulated phone (pos_app.sandbox.phone) against real sockets: the sandbox and a small page server
that follows issue 19's contract (tests/contract/sandbox/contract_pages.py), each under uvicorn."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from pos_app.config import Settings
from pos_app.sandbox.app import create_app
from pos_app.sandbox.demo import free_loopback_port
from pos_app.sandbox.phone import scan
from pos_app.sandbox.phone.page import read_page
from tests.contract.sandbox.contract_pages import APP_SECRET, ContractPages


@dataclass
class Servers:
    settings: Settings
    sandbox_url: str
    pages_url: str
    pages: ContractPages


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    return server, thread


@pytest.fixture
def servers(demo_settings: Settings) -> Iterator[Servers]:
    settings = demo_settings.model_copy(deep=True)
    sandbox_port, pages_port = free_loopback_port(), free_loopback_port()
    while pages_port == sandbox_port:
        pages_port = free_loopback_port()
    sandbox_url, pages_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{pages_port}"
    settings.engine.public_url = pages_url
    settings.wechatpay.oauth_url = settings.wechatpay.sns_url = settings.wechatpay.base_url = sandbox_url
    settings.alipay.oauth_url, settings.alipay.gateway = sandbox_url, sandbox_url + "/gateway.do"
    assert settings.wechatpay.oauth_secret_file is not None
    secret = settings.path(settings.wechatpay.oauth_secret_file)
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(APP_SECRET, "utf-8")
    pages = ContractPages(settings, sandbox_url, sales={"sale1": 1230, "sale2": 880}, store_tokens={"till1"})
    running = [_serve(create_app(settings), sandbox_port), _serve(pages.app(), pages_port)]
    yield Servers(settings, sandbox_url, pages_url, pages)
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


async def _notified(pages: ContractPages, count: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(pages.notifications) < count:
        assert time.monotonic() < deadline, f"{len(pages.notifications)} of {count} notifications arrived"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("app", ["wechat", "alipay"])
async def test_one_qr_is_paid_by_each_wallet(servers: Servers, app: str) -> None:
    outcome = await scan(servers.pages_url + "/q/sale1", app=app)  # type: ignore[arg-type]
    assert outcome.error is None, outcome.steps
    assert outcome.bridge is not None and outcome.bridge["app"] == app
    assert outcome.page_url is not None and outcome.page_url.startswith(servers.pages_url + f"/q/sale1/{app}?")
    assert outcome.callback == ("get_brand_wcpay_request:ok" if app == "wechat" else "9000")
    assert outcome.page_result == "ok"
    assert outcome.result == {"state": "PAID", "message": "支付成功"}
    assert outcome.trade_state in ("SUCCESS", "TRADE_SUCCESS")
    whats = [step.what for step in outcome.steps]
    assert any("asks who is paying" in w for w in whats) and any("back to the shop page" in w for w in whats)
    assert servers.pages.results == [{"otn": servers.pages.orders[0].otn, "result": "ok"}]
    await _notified(servers.pages, 1)
    assert servers.pages.notifications[0][0] == app


async def test_the_store_qr_paid_twice_with_different_amounts(servers: Servers) -> None:
    first = await scan(servers.pages_url + "/s/till1", app="wechat", amount_fen=2300, user="alice")
    second = await scan(servers.pages_url + "/s/till1", app="alipay", amount_fen=550, user="bob")
    for outcome in (first, second):
        assert outcome.error is None, outcome.steps
        assert outcome.result is not None and outcome.result["state"] == "PAID"
        assert any(step.what.startswith("Typed ¥") for step in outcome.steps)
    assert [(o.amount_fen, o.wallet) for o in servers.pages.orders] == [(2300, "wechat"), (550, "alipay")]
    await _notified(servers.pages, 2)


async def test_a_store_page_needs_an_amount(servers: Servers) -> None:
    outcome = await scan(servers.pages_url + "/s/till1", app="wechat")
    assert outcome.error is not None and "amount" in outcome.error
    assert servers.pages.orders == []


@pytest.mark.parametrize(("app", "callback"), [("wechat", "get_brand_wcpay_request:cancel"), ("alipay", "6001")])
async def test_cancel_on_the_phone_leaves_the_sale_unpaid(servers: Servers, app: str, callback: str) -> None:
    outcome = await scan(servers.pages_url + "/q/sale2", app=app, choice="cancel")  # type: ignore[arg-type]
    assert outcome.error is None and outcome.callback == callback and outcome.page_result == "cancel"
    assert outcome.result is not None and outcome.result["state"] == "AWAITING_SCAN"
    assert outcome.trade_state in ("NOTPAY", "WAIT_BUYER_PAY")


async def test_failure_and_a_paid_order_whose_callback_never_comes(servers: Servers) -> None:
    failed = await scan(servers.pages_url + "/q/sale1", app="alipay", choice="fail")
    assert failed.callback == "4000" and failed.page_result == "fail"
    silent = await scan(servers.pages_url + "/q/sale2", app="wechat", quirk="no_callback")
    assert silent.callback is None and silent.page_result is None and silent.result is None
    assert silent.trade_state == "SUCCESS"  # paid: only the notification or a query can tell the shop
    await _notified(servers.pages, 1)


async def test_another_browser_gets_the_open_with_a_wallet_page(servers: Servers) -> None:
    outcome = await scan(servers.pages_url + "/q/sale1", app="browser")
    assert outcome.error is None and outcome.bridge is None and outcome.final_status == 200
    assert "WeChat or Alipay" in outcome.final_text and "请用微信或支付宝扫码" in outcome.final_text


async def test_a_wallet_error_page_stops_the_phone(servers: Servers) -> None:
    servers.pages.evil_redirect = True
    outcome = await scan(servers.pages_url + "/q/sale1", app="wechat")
    assert outcome.error is not None and "(10003)" in outcome.error and "redirect_uri" in outcome.error


async def test_a_failed_code_exchange(servers: Servers) -> None:
    busy = await scan(servers.pages_url + "/q/sale1", app="wechat", oauth_error=-1)
    assert busy.error is not None and busy.final_status == 502 and busy.bridge is None
    # 40163 on the first code: the shop restarts the authorization once and the second code works.
    retried = await scan(servers.pages_url + "/q/sale2", app="wechat", oauth_error=40163)
    assert retried.error is None and retried.result is not None and retried.result["state"] == "PAID"
    assert sum("asks who is paying" in step.what for step in retried.steps) == 2


def test_the_cli_prints_the_steps(servers: Servers) -> None:
    from pos_app.cli import cli

    runner = CliRunner()
    result = runner.invoke(
        cli, ["sandbox", "scan", servers.pages_url + "/s/till1", "--app", "alipay", "--amount", "23"]
    )
    assert result.exit_code == 0, result.output
    assert "Typed ¥23.00 and tapped Pay" in result.output
    assert "callback 9000" in result.output and "(PAID)" in result.output
    refused = runner.invoke(cli, ["sandbox", "scan", servers.pages_url + "/s/till1", "--app", "wechat"])
    assert refused.exit_code == 1 and "Stopped:" in refused.output
    bad = runner.invoke(cli, ["sandbox", "scan", "http://x", "--app", "wechat", "--amount", "-1"])
    assert bad.exit_code == 2
    wrong_quirk = runner.invoke(cli, ["sandbox", "scan", "http://x", "--app", "wechat", "--quirk", "8000"])
    assert wrong_quirk.exit_code == 2 and "does not exist in WeChat" in wrong_quirk.output


def test_page_reader() -> None:
    page = read_page(
        "<html><head><title>付款</title><script>var x = 1;</script></head><body><p>Hello &amp; 你好</p>"
        "<form id='pos-amount' method='POST' action='/s/t/pay'><input name='amount'>"
        "<input type='hidden' name='ticket' value='a&amp;b'><button type='submit' name='go'>Pay</button></form>"
        '<script type="application/json" id="pos-bridge">{"app":"alipay","tradeNO":"1","x":"<\\/script>"}</script>'
        "</body></html>"
    )
    assert page.title == "付款" and page.text == "Hello & 你好 Pay"
    assert page.amount_form is not None
    assert (page.amount_form.action, page.amount_form.method) == ("/s/t/pay", "post")
    assert page.amount_form.fields == {"amount": "", "ticket": "a&b"}
    assert page.bridge() == {"app": "alipay", "tradeNO": "1", "x": "</script>"}
    with pytest.raises(ValueError, match="no #pos-bridge"):
        read_page("<p>nothing</p>").bridge()


def test_the_phone_never_imports_the_engine() -> None:
    import subprocess
    import sys

    code = "import sys, pos_app.sandbox.phone; print(sorted(m for m in sys.modules if m.startswith('pos_app.engine')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("app", "choice", "state"), [("wechat", "pay", "PAID"), ("alipay", "cancel", "AWAITING_SCAN")])
def test_the_pages_own_script_in_headless_chromium_with_the_injected_bridge(
    servers: Servers, app: str, choice: str, state: str
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.phone_browser import phone_browser

    with phone_browser(app, servers.sandbox_url, choice=choice) as driver:
        driver.get(servers.pages_url + "/q/sale1")
        shown = WebDriverWait(driver, 20).until(lambda d: d.find_element("id", "status").get_attribute("data-state"))
        assert shown == state
        assert driver.current_url.startswith(servers.pages_url + f"/q/sale1/{app}?")
        answer = driver.execute_script("return window.__posBridgeAnswer")
        assert answer["trade_state" if app == "wechat" else "trade_status"] in ("SUCCESS", "WAIT_BUYER_PAY")
    assert [r["result"] for r in servers.pages.results] == ["ok" if choice == "pay" else "cancel"]


async def test_the_wallet_page_runs_the_phone(servers: Servers) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(servers.sandbox_url + "/wallet")
        assert 'action="/wallet/scan"' in page.text
        form = {"url": servers.pages_url + "/s/till1", "app": "wechat", "amount": "12.50", "choice": "pay"}
        answer = await http.post(servers.sandbox_url + "/wallet/scan", data=form)
    assert answer.status_code == 200
    assert "Typed ¥12.50 and tapped Pay" in answer.text and "(PAID)" in answer.text
    assert [o.amount_fen for o in servers.pages.orders] == [1250]
