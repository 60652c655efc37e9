"""The Reconciliation page reads the report `pos reconcile` writes (the engine's own ReconcileReport
files, written here by its own to_json/to_csv): per channel, every difference with its action, the
upload status and the CSV. Owners only: the bills span every store."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
from selenium import webdriver

from pos_app.config import Settings
from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.report import ChannelSummary, ReconcileReport
from pos_app.engine.reconcile.results import Difference, OpenItem
from tests.console.browser_steps import money, screenshot, sign_in, table_rows, text_of
from tests.console.support import DAY, MANAGER_A, OWNER, PASSWORD, http_sign_in, serve_console

MISSING_NO = "P20261205S00001T001000099"


def _write_report(settings: Settings) -> ReconcileReport:
    report = ReconcileReport(date.fromisoformat(DAY), datetime(2026, 12, 6, 2, 0, tzinfo=UTC), journals_compared=True)
    report.channels.append(
        ChannelSummary(
            Channel.WECHAT,
            payments=12,
            payments_fen=34_560,
            ledger_payments=13,
            ledger_payments_fen=35_560,
            matched=12,
            open_items=1,
            fee_millifen=207_360,
            settled_fen=34_560,
        )  # fmt: skip
    )
    report.channels.append(ChannelSummary(Channel.ALIPAY, status="not_ready", problem="The bill is not ready yet."))
    report.items.append(
        OpenItem(Difference.MISSING_AT_PROVIDER, Channel.WECHAT, MISSING_NO, "Paid in the ledger, not in the bill.",
                 "Query the gateway; refund the customer if it was not paid.", ledger_fen=1000, terminal_id="T001")
    )  # fmt: skip
    folder = settings.home / "reconcile" / DAY
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(report.to_json(), "utf-8")
    (folder / "report.csv").write_text(report.to_csv(), "utf-8")
    (folder / "state.json").write_text('{"upload": {"status": "no_destination"}}', "utf-8")
    return report


@pytest.fixture
def reconciled(console_settings: Settings) -> Iterator[tuple[Settings, str]]:
    _write_report(console_settings)
    with serve_console(console_settings) as url:
        yield console_settings, url


def test_an_owner_sees_the_days_reconciliation_and_downloads_it(
    reconciled: tuple[Settings, str], browser: webdriver.Chrome
) -> None:
    settings, url = reconciled
    sign_in(browser, url, OWNER, PASSWORD)
    browser.get(f"{url}/reconciliation?day={DAY}&lang=en")
    assert "Incomplete" in text_of(browser, "summary") and text_of(browser, "upload") == "no_destination"
    channels = table_rows(browser, "channels")
    assert channels[0][:7] == ["WeChat Pay", "ok", "12", money(34_560), "13", money(35_560), "12"]
    assert channels[0][8] == money(207) and channels[1][1].startswith("not_ready")
    items = table_rows(browser, "items")
    assert len(items) == 1 and items[0][0] == "missing_at_provider" and items[0][2] == MISSING_NO
    assert items[0][7].startswith("Query the gateway") and items[0][8] == "still open"
    assert text_of(browser, "kinds") == "missing_at_provider: 1"
    screenshot(browser, "console-reconciliation.png")
    browser.get(f"{url}/reconciliation?day=2026-01-01")
    assert "pos reconcile --date 2026-01-01" in text_of(browser, "no-report")
    with httpx.Client(base_url=url) as client:
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        download = client.get("/reconciliation.csv", params={"day": DAY})
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
        text = download.content.decode("utf-8-sig")
        assert MISSING_NO in text and text.splitlines()[1].startswith(f"{DAY},wechat,ok,12,345.60")
        assert client.get("/reconciliation.csv", params={"day": "2026-01-01"}).status_code == 404
    path = settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        audit = list(db.execute("SELECT user_name, action, detail FROM console_audit WHERE action LIKE 'recon%'"))
    assert audit == [(OWNER, "reconciliation.csv", DAY)]


def test_a_store_manager_gets_no_reconciliation(reconciled: tuple[Settings, str]) -> None:
    _, url = reconciled
    with httpx.Client(base_url=url) as client:
        assert http_sign_in(client, MANAGER_A, PASSWORD).status_code == 303
        page = client.get("/reconciliation", params={"day": DAY})
        assert page.status_code == 404 and MISSING_NO not in page.text
        assert client.get("/reconciliation.csv", params={"day": DAY}).status_code == 404
        assert "/reconciliation" not in client.get("/today").text
