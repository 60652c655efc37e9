"""The Days page's Z reports and till alerts: read from the journal events the tills uploaded (made by
the real journal, tests/console/till_journal.py), per till and day, and never across stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from pos_app.config import Settings
from pos_app.console.till_events import till_day_events
from pos_app.engine.store import open_ledger
from tests.console.browser_steps import money, screenshot, sign_in
from tests.console.support import (
    DAY,
    MANAGER_A,
    MANAGER_B,
    OTHER_DAY,
    OWNER,
    PASSWORD,
    STORE_B,
    http_sign_in,
    serve_console,
)
from tests.console.till_journal import FLOAT_FEN, SHORT_FEN, TillStory, upload_till_journals


@pytest.fixture
def stories(console_settings: Settings, tmp_path: Path) -> dict[str, TillStory]:
    return upload_till_journals(console_settings, tmp_path / "tills")


@pytest.fixture
def days_url(console_settings: Settings, stories: dict[str, TillStory]) -> Iterator[str]:
    with serve_console(console_settings) as url:
        yield url


def test_each_till_gets_its_z_and_the_alerts_it_raised_that_day(
    console_settings: Settings, stories: dict[str, TillStory]
) -> None:
    ledger = open_ledger(console_settings.database_url)
    day = till_day_events(ledger, ["T001", "T002", "U001"], date.fromisoformat(DAY))
    before = till_day_events(ledger, ["T002"], date.fromisoformat(OTHER_DAY))["T002"]
    ledger.dispose()
    t002 = stories["T002"]
    [z] = day["T002"].z_reports
    assert (z.number, z.net_fen, z.closed_by) == (t002.z_number, t002.cash_fen, "Max")
    assert (z.cash_expected_fen, z.cash_counted_fen) == (
        FLOAT_FEN + t002.cash_fen,
        FLOAT_FEN + t002.cash_fen - SHORT_FEN,
    )
    assert z.sales is None  # the day-close payload does not carry it
    assert z.closed_at.isoformat() == "2026-12-05T14:00:00+00:00"  # 22:00 China time
    assert [(a.out_trade_no, a.acknowledged is not None) for a in day["T002"].alerts] == t002.alerts
    seen, failed = day["T002"].alerts
    assert (seen.kind, seen.saw, seen.became, seen.amount_fen) == ("paid_after_cancel", "cancelled", "PAID", 1250)
    assert (seen.acknowledged, seen.acknowledged_by) == ("handed_over", "Max")
    assert (failed.kind, failed.became, failed.out_refund_no) == (
        "refund_failed",
        "FAILED",
        f"R{failed.out_trade_no[1:]}",
    )
    # The alert of the day before is that day's, and no Z closed it.
    assert [a.out_trade_no for a in before.alerts] == [t002.earlier_alert] and before.z_reports == []
    assert day["T001"].z_reports == [] and day["T001"].alerts == []  # uploaded sales only
    assert [z.net_fen for z in day["U001"].z_reports] == [stories["U001"].cash_fen]


def test_the_days_page_shows_zs_and_alerts_in_the_browser(
    days_url: str, stories: dict[str, TillStory], browser: webdriver.Chrome
) -> None:
    sign_in(browser, days_url, MANAGER_A, PASSWORD)
    browser.get(f"{days_url}/days?day={DAY}&lang=en")
    t002 = stories["T002"]
    z = browser.find_element(By.ID, f"z-T002-{t002.z_number}")
    assert f"Z #{t002.z_number}" in z.text and "Max" in z.text and "2026-12-05 22:00:00" in z.text
    assert z.find_element(By.CLASS_NAME, "z-net").text == money(t002.cash_fen)
    expected = FLOAT_FEN + t002.cash_fen
    assert (
        z.find_element(By.CLASS_NAME, "z-cash").text
        == f"Cash counted {money(expected - SHORT_FEN)}, expected {money(expected)}"
    )
    assert browser.find_element(By.CSS_SELECTOR, "#till-T001 .no-z").text == "No Z yet."
    [acknowledged] = browser.find_elements(By.CSS_SELECTOR, "#till-T002 tr.alert-row.acknowledged")
    [still_open] = browser.find_elements(By.CSS_SELECTOR, "#till-T002 tr.alert-row.open")
    assert t002.alerts[0][0] in acknowledged.text and "goods handed over" in acknowledged.text
    assert "paid after the cashier cancelled" in acknowledged.text and money(1250) in acknowledged.text
    assert t002.alerts[1][0] in still_open.text and "not yet" in still_open.text
    assert "refund failed" in still_open.text and "refund on its way" in still_open.text
    assert t002.earlier_alert not in browser.find_element(By.ID, "till-T002").text
    assert browser.find_element(By.CSS_SELECTOR, "#till-T001 .no-alerts").text == "No alerts."
    screenshot(browser, "console-days-z-alerts.png")
    browser.get(f"{days_url}/days?day={DAY}&lang=zh_CN")  # double-width text holds in the layout
    assert browser.find_element(By.ID, f"z-T002-{t002.z_number}").is_displayed()


def test_a_manager_cannot_see_another_stores_z_or_alerts_by_url(days_url: str, stories: dict[str, TillStory]) -> None:
    theirs = stories["U001"]
    secrets = [
        "till-U001",
        f"z-U001-{theirs.z_number}",
        theirs.alerts[0][0],
        theirs.alerts[1][0],
        money(theirs.cash_fen),
    ]
    for who, sees in ((OWNER, True), (MANAGER_B, True), (MANAGER_A, False)):
        with httpx.Client(base_url=days_url) as client:
            assert http_sign_in(client, who, PASSWORD).status_code == 303
            for query in ({"day": DAY, "store": STORE_B, "lang": "en"}, {"day": DAY, "lang": "en"}):
                page = client.get("/days", params=query)
                assert page.status_code == 200
                assert [s in page.text for s in secrets] == [sees] * len(secrets), (who, query)
    # And the other way round: store B's manager gets nothing of till T002.
    with httpx.Client(base_url=days_url) as client:
        http_sign_in(client, MANAGER_B, PASSWORD)
        page = client.get("/days", params={"day": DAY, "store": "S00001"})
        assert "till-T002" not in page.text and stories["T002"].alerts[1][0] not in page.text
