"""The console's acts through the engine: a refund started on a payment's page settles (real engine
and sandbox on a loopback socket, real headless chromium); tills are disabled and activation codes
made from the Terminals page; a manager of store A acts on nothing of store B by form guessing."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import datetime
from urllib.parse import parse_qs, urlparse

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By

from pos_app.api.schemas import CreatePayment
from pos_app.config import Settings
from pos_app.console import accounts
from pos_app.console.engine_key import make_engine_key
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.engine.store import open_ledger
from pos_app.engine.store.console_accounts import Role
from tests.console.browser_steps import money, screenshot, sign_in, text_of, wait_for_text
from tests.console.engine_stack import EngineOnLoopback, serve_engine
from tests.console.support import MANAGER_A, PASSWORD, STORE_B, csrf_of, http_sign_in, serve_console

DEMO_MANAGER, DEMO_PIN = "Demo Manager", "9999"  # the sandbox profile's engine manager (public PIN)


def _rows(settings: Settings, sql: str, *args: object) -> list[tuple[object, ...]]:
    path = settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        return list(db.execute(sql, args))


async def _a_paid_payment(engine: EngineOnLoopback, store: str, amount_fen: int) -> str:
    """A till of ``store`` activated on the engine takes a real micropay from the sandbox."""
    stack = engine.stack
    async with stack.client("T001") as till:
        await till.activate(stack.new_code(), store, "T001", "Till 1")
        no = make_trade_no(IdKind.PAYMENT, store=store, terminal="T001", seq=1, at=datetime.now())
        request = CreatePayment(
            out_trade_no=no, amount_fen=amount_fen, mode=PaymentMode.MICROPAY,
            auth_code=await stack.auth_code("wechat"), subject="Tea", operator="alice",
        )  # fmt: skip
        assert (await till.create_payment(request)).state is PaymentState.PAID
        return no


def test_a_refund_started_in_the_console_settles(demo_settings: Settings, browser: webdriver.Chrome) -> None:
    demo_settings.engine.resolver_interval_s = 0.2
    store = demo_settings.terminal.store_id
    make_engine_key(demo_settings.path(demo_settings.console.engine_key_file))
    with serve_engine(demo_settings) as engine:
        demo_settings.console.engine_url = engine.url
        ledger = open_ledger(demo_settings.database_url)
        accounts.add_user(ledger, name="mgr", role=Role.MANAGER, store_id=store, password=PASSWORD, by="test")
        ledger.dispose()
        out_trade_no = engine.run(_a_paid_payment(engine, store, 2000))
        with serve_console(demo_settings) as console:
            sign_in(browser, console, "mgr", PASSWORD)
            browser.get(f"{console}/payments/{out_trade_no}")
            assert text_of(browser, "state") == "PAID"
            # A wrong PIN: the engine refuses, nothing moves, the form keeps what was typed (not the PIN).
            browser.find_element(By.ID, "refund-amount").send_keys("3.50")
            browser.find_element(By.ID, "refund-reason").send_keys("杯子破了")
            browser.find_element(By.ID, "refund-approver").send_keys(DEMO_MANAGER)
            browser.find_element(By.ID, "refund-pin").send_keys("1111")
            browser.find_element(By.ID, "refund-submit").click()
            assert "did not accept" in text_of(browser, "refund-error")
            assert browser.find_element(By.ID, "refund-amount").get_attribute("value") == "3.50"
            assert browser.find_element(By.ID, "refund-pin").get_attribute("value") == ""
            browser.find_element(By.ID, "refund-pin").send_keys(DEMO_PIN)
            browser.find_element(By.ID, "refund-submit").click()
            deadline = time.monotonic() + 20
            while "refund=" not in browser.current_url and time.monotonic() < deadline:
                time.sleep(0.05)
            out_refund_no = parse_qs(urlparse(browser.current_url).query)["refund"][0]
            # The page refreshes itself while the refund is open, until the gateway's answer is in.
            wait_for_text(browser, f"refund-state-{out_refund_no}", "SUCCESS", timeout_s=45)
            wait_for_text(browser, "state", "PARTIALLY_REFUNDED", timeout_s=10)
            screenshot(browser, "console-refund.png")
    rows = _rows(demo_settings, "SELECT amount_fen, state, operator, approved_by FROM refunds WHERE out_refund_no = ?",
                 out_refund_no)  # fmt: skip
    assert rows == [(350, "SUCCESS", "console:mgr", DEMO_MANAGER)]
    paid = _rows(demo_settings, "SELECT refunded_fen FROM payments WHERE out_trade_no = ?", out_trade_no)
    assert paid == [(350,)]
    audit = _rows(demo_settings, "SELECT user_name, action, detail FROM console_audit WHERE action LIKE 'refund%'")
    assert [(u, a) for u, a, _ in audit] == [("mgr", "refund_refused"), ("mgr", "refund")]
    assert all(DEMO_PIN not in str(d) and "1111" not in str(d) for _, _, d in audit)
    assert money(350) in str(audit[1][2])


def test_a_manager_cannot_act_on_another_stores_tills_or_payments(console_settings: Settings, console_url: str) -> None:
    theirs = _rows(console_settings, "SELECT out_trade_no FROM payments WHERE store_id = ? AND state = 'PAID'", STORE_B)
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, MANAGER_A, PASSWORD).status_code == 303
        csrf = csrf_of(client)
        guessed = client.post("/terminals/disable", data={"csrf": csrf, "terminal_id": "U001"})
        assert guessed.status_code == 404 and "U001" not in guessed.text
        code = client.post("/terminals/codes", data={"csrf": csrf, "store_id": STORE_B})
        # A manager's code is always for their own store, whatever the form says (no engine here: refused).
        assert STORE_B not in code.text
        refund = client.post(
            f"/payments/{theirs[0][0]}/refund",
            data={"csrf": csrf, "refund_no": "C2026120500000000abcd", "amount": "1", "approver": "x", "pin": "1"},
        )
        assert refund.status_code == 404
        # Without the CSRF token nothing is even looked up.
        assert client.post("/terminals/disable", data={"terminal_id": "T001"}).status_code == 403
        assert client.post(f"/payments/{theirs[0][0]}/refund", data={"amount": "1"}).status_code == 403
        # Their own till, but the engine is not running: nothing is disabled, and the page says why.
        down = client.post("/terminals/disable", data={"csrf": csrf, "terminal_id": "T001"})
        assert down.status_code == 502 and "engine" in down.text.lower()
    assert _rows(console_settings, "SELECT terminal_id FROM terminals WHERE disabled") == []
    assert _rows(console_settings, "SELECT COUNT(*) FROM refunds WHERE out_trade_no = ?", theirs[0][0]) == [(0,)]
    audit = [(u, a) for u, a in _rows(console_settings, "SELECT user_name, action FROM console_audit")]
    assert (MANAGER_A, "terminal_disable_refused") in audit and (MANAGER_A, "refund") not in audit


def test_a_manager_disables_a_till_and_makes_a_code_through_the_engine(
    demo_settings: Settings, browser: webdriver.Chrome
) -> None:
    store = demo_settings.terminal.store_id
    make_engine_key(demo_settings.path(demo_settings.console.engine_key_file))
    with serve_engine(demo_settings) as engine:
        demo_settings.console.engine_url = engine.url
        ledger = open_ledger(demo_settings.database_url)
        accounts.add_user(ledger, name="mgr", role=Role.MANAGER, store_id=store, password=PASSWORD, by="test")
        ledger.dispose()
        engine.run(_a_paid_payment(engine, store, 100))
        with serve_console(demo_settings) as console:
            sign_in(browser, console, "mgr", PASSWORD)
            browser.get(f"{console}/terminals")
            browser.find_element(By.ID, "code-till").send_keys("T009")
            browser.find_element(By.ID, "code-submit").click()
            shown = text_of(browser, "new-code")
            browser.find_element(By.ID, "disable-T001").click()
            deadline = time.monotonic() + 20
            while browser.find_elements(By.ID, "disable-T001") and time.monotonic() < deadline:
                time.sleep(0.05)  # the page comes back without the button of a disabled till
            screenshot(browser, "console-terminals.png")
        row = engine.stack.registry.terminal("T001")
        assert row is not None and row.disabled
        code = shown.split(": ", 1)[1].split(" ", 1)[0]

        async def activate() -> None:
            async with engine.stack.client("T009") as till:
                await till.activate(code, store, "T009", "Till 9")

        engine.run(activate())
        assert engine.stack.registry.terminal_key("T009") is not None
    actions = [a for (a,) in _rows(demo_settings, "SELECT action FROM console_audit WHERE user_name = 'mgr'")]
    assert "activation_code" in actions and "terminal_disable" in actions
    assert all(code not in str(d) for (d,) in _rows(demo_settings, "SELECT detail FROM console_audit"))
