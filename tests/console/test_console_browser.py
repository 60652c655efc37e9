"""The console in a real headless browser (Debian's chromium): owners see the chain, managers their
store only; the Today figures equal an independent sum of ledger rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlmodel import Session

from pos_app.config import Settings
from pos_app.engine.store import open_ledger
from pos_app.engine.store.models import Payment
from pos_app.engine.store.terminals import add_activation_code
from tests.console.browser_steps import money, screenshot, sign_in, table_rows, text_of, wait_for_text
from tests.console.support import (
    DAY,
    JOURNAL_MISSING,
    JOURNAL_REFUND_DIFFERS,
    MANAGER_A,
    OWNER,
    PASSWORD,
    STORE_A,
    STORE_B,
    independent_totals,
    t001_money_in,
)


def test_an_owner_sees_every_store_and_the_totals_equal_the_ledger_rows(
    console_settings: Settings, console_url: str, browser: webdriver.Chrome
) -> None:
    sign_in(browser, console_url, OWNER, PASSWORD)
    browser.get(f"{console_url}/today?day={DAY}")
    every = independent_totals(console_settings, DAY)
    assert every.count > 0 and every.refunded_fen > 0
    assert text_of(browser, "total-count") == str(every.count)
    assert text_of(browser, "total-amount") == money(every.amount_fen)
    assert text_of(browser, "total-refunded") == money(every.refunded_fen)
    assert text_of(browser, "total-net") == money(every.net_fen)
    by_store = {row[0]: row for row in table_rows(browser, "by-store")}
    for store in (STORE_A, STORE_B):
        mine = independent_totals(console_settings, DAY, store)
        assert by_store[store][1:] == [
            str(mine.count),
            money(mine.amount_fen),
            money(mine.refunded_fen),
            money(mine.net_fen),
        ]
    # Every view adds up to the same day: tills, channels and cashiers each sum to the total.
    for table in ("by-till", "by-channel", "by-cashier"):
        assert sum(int(row[1]) for row in table_rows(browser, table)) == every.count
    screenshot(browser, "console-today-owner.png")

    browser.get(f"{console_url}/today?day={DAY}&store={STORE_B}")
    only_b = independent_totals(console_settings, DAY, STORE_B)
    assert text_of(browser, "total-net") == money(only_b.net_fen)


def test_a_store_manager_sees_their_store_only(
    console_settings: Settings, console_url: str, browser: webdriver.Chrome
) -> None:
    sign_in(browser, console_url, MANAGER_A, PASSWORD)
    assert STORE_A in text_of(browser, "who")
    mine = independent_totals(console_settings, DAY, STORE_A)
    for asked in (f"/today?day={DAY}", f"/today?day={DAY}&store={STORE_B}"):
        browser.get(console_url + asked)
        assert text_of(browser, "total-net") == money(mine.net_fen)
        assert [row[0] for row in table_rows(browser, "by-store")] == [STORE_A]
        assert STORE_B not in browser.page_source
    browser.get(f"{console_url}/payments?store={STORE_B}")
    shown = table_rows(browser, "payments")
    assert shown and all(row[2] == STORE_A for row in shown)
    screenshot(browser, "console-payments-manager.png")
    browser.get(f"{console_url}/payments?state=PAID")  # a scanned payment code: shown masked
    browser.find_element(By.CSS_SELECTOR, "#payments tbody tr a").click()
    assert text_of(browser, "code").endswith("1234") and text_of(browser, "code").startswith("*")
    screenshot(browser, "console-payment-trail.png")


def test_a_phone_sized_window_shows_the_day_in_one_column(
    console_settings: Settings, console_url: str, browser: webdriver.Chrome
) -> None:
    browser.set_window_size(390, 844)
    sign_in(browser, console_url, OWNER, PASSWORD)
    browser.get(f"{console_url}/today?day={DAY}")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, "the Today page scrolls sideways on a phone"
    screenshot(browser, "console-today-phone.png")


def test_chinese_is_chosen_once_and_kept(console_url: str, browser: webdriver.Chrome) -> None:
    sign_in(browser, console_url, OWNER, PASSWORD)
    browser.get(f"{console_url}/today?day={DAY}&lang=zh_CN")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    browser.get(f"{console_url}/today?day={DAY}")  # no ?lang: the cookie keeps Chinese
    assert browser.find_element(By.ID, "logout").text == "退出登录"
    assert {row[0] for row in table_rows(browser, "by-channel")} == {"微信支付", "支付宝"}
    browser.set_window_size(390, 844)
    browser.get(f"{console_url}/today?day={DAY}")
    screenshot(browser, "console-today-zh.png")
    browser.get(f"{console_url}/today?day={DAY}&lang=en")
    assert browser.find_element(By.ID, "logout").text == "Sign out"


def test_days_shows_each_tills_journal_beside_the_ledger(
    console_settings: Settings, console_url: str, browser: webdriver.Chrome
) -> None:
    ledger = open_ledger(console_settings.database_url)
    with Session(ledger) as session:
        t001 = [p.out_trade_no for p in t001_money_in(session)]
        t002 = independent_totals(console_settings, DAY, STORE_A).count - len(t001)
    ledger.dispose()
    sign_in(browser, console_url, MANAGER_A, PASSWORD)
    browser.get(f"{console_url}/days?day={DAY}&store={STORE_B}")
    tills = [s.get_attribute("id") for s in browser.find_elements(By.CSS_SELECTOR, "section.till")]
    assert tills == ["till-T001", "till-T002"]  # store A's only, whatever was asked
    listed = browser.find_elements(By.CSS_SELECTOR, "#till-T001 li.difference a")
    assert sorted(a.text for a in listed) == sorted([t001[JOURNAL_REFUND_DIFFERS], t001[JOURNAL_MISSING]])
    first = browser.find_element(By.ID, "till-T001").text
    assert "Refunds differ" in first and "Only in the ledger" in first and "Cash" in first
    # Till T002 uploaded nothing: every payment that took money there is only in the ledger.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#till-T002 li.difference")) == t002
    screenshot(browser, "console-days-manager.png")


def test_terminals_lists_the_viewers_tills_and_waiting_codes(
    console_settings: Settings, console_url: str, browser: webdriver.Chrome
) -> None:
    ledger = open_ledger(console_settings.database_url)
    with Session(ledger) as session:
        add_activation_code(session=session, code="AAAA-BBBB-CCCC", ttl=timedelta(hours=1), store_id=STORE_A)
        add_activation_code(session=session, code="DDDD-EEEE-FFFF", ttl=timedelta(hours=1), store_id=STORE_B)
        session.commit()
    ledger.dispose()
    sign_in(browser, console_url, MANAGER_A, PASSWORD)
    browser.get(f"{console_url}/terminals")
    rows = table_rows(browser, "tills")
    assert [(r[0], r[1]) for r in rows] == [(STORE_A, "T001"), (STORE_A, "T002")]
    assert rows[0][5] == "20" and rows[1][5] == "0"  # journal events the engine holds (T001's seeded upload)
    assert [r[0] for r in table_rows(browser, "codes")] == [STORE_A]
    assert "AAAA" not in browser.page_source
    screenshot(browser, "console-terminals-manager.png")


def test_a_payment_made_at_a_till_appears_on_today_without_reload(
    console_settings: Settings, console_url: str, browser: webdriver.Chrome
) -> None:
    sign_in(browser, console_url, MANAGER_A, PASSWORD)
    browser.get(f"{console_url}/today?day={DAY}")
    before = independent_totals(console_settings, DAY, STORE_A)
    assert text_of(browser, "total-count") == str(before.count)
    browser.execute_script("window.sameDocument = true")
    at = datetime.fromisoformat(f"{DAY}T15:30:00+08:00")
    ledger = open_ledger(console_settings.database_url)
    with Session(ledger) as session:
        session.add(Payment(out_trade_no="P20261205LIVE0001", terminal_id="T001", store_id=STORE_A, channel="wechat",
                            mode="native", amount_fen=8_888, subject="Live", operator="Ann", state="PAID",
                            business_day=DAY, created_at=at, updated_at=at, paid_at=at))  # fmt: skip
        session.commit()
    ledger.dispose()
    after = independent_totals(console_settings, DAY, STORE_A)
    wait_for_text(browser, "total-count", str(after.count))
    wait_for_text(browser, "total-net", money(after.net_fen))
    assert browser.execute_script("return window.sameDocument") is True  # no reload
