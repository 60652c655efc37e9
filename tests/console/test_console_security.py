"""The console's defences, over a real socket: store scope against URL guessing (pages and downloads),
CSRF on every form (the sign-in form too), session fixation, throttled wrong passwords, audit rows."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import sqlite3
import time

import httpx
import openpyxl  # type: ignore[import-untyped]
from selenium import webdriver

from pos_app.config import Settings
from pos_app.console import accounts
from pos_app.console.web import SESSION_COOKIE
from pos_app.engine.store import open_ledger
from tests.console.browser_steps import sign_in, text_of
from tests.console.support import (
    DAY,
    MANAGER_A,
    MANAGER_B,
    OWNER,
    PASSWORD,
    STORE_A,
    STORE_B,
    csrf_of,
    http_sign_in,
    login_form_token,
    serve_page,
)


def _payments_of(settings: Settings, store: str) -> list[str]:
    path = settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT out_trade_no FROM payments WHERE store_id = ?", (store,))]


def _audit(settings: Settings) -> list[tuple[str, str]]:
    path = settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [(r[0], r[1]) for r in db.execute("SELECT user_name, action FROM console_audit ORDER BY id")]


def test_a_manager_gets_nothing_of_another_store_by_url_guessing(console_settings: Settings, console_url: str) -> None:
    theirs = _payments_of(console_settings, STORE_B)
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, MANAGER_A, PASSWORD).status_code == 303
        for no in theirs[:10]:
            page = client.get(f"/payments/{no}")
            assert page.status_code == 404 and no not in page.text
            assert f'/payments/{no}"' not in client.get("/payments", params={"order": no, "store": STORE_B}).text
        download = client.get("/payments.csv", params={"store": STORE_B})
        assert download.status_code == 200
        rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
        assert rows and {row["store_id"] for row in rows} == {STORE_A}
        assert not set(theirs) & {row["out_trade_no"] for row in rows}
        book = openpyxl.load_workbook(io.BytesIO(client.get("/payments.xlsx", params={"store": STORE_B}).content))
        sheet = list(book.active.iter_rows(values_only=True))
        assert sheet[0][:2] == ("out_trade_no", "store_id") and {r[1] for r in sheet[1:]} == {STORE_A}
        assert len(sheet) - 1 == len(rows) == len(_payments_of(console_settings, STORE_A))
        assert client.get("/audit").status_code == 404  # owners only
        # Their own payment opens, with the masked payment code only.
        own = client.get(f"/payments/{_payments_of(console_settings, STORE_A)[0]}")
        assert own.status_code == 200 and "**************1234" in own.text
    assert {(MANAGER_A, "payments.csv"), (MANAGER_A, "payments.xlsx")} <= set(_audit(console_settings))


def test_nothing_is_shown_before_signing_in(console_settings: Settings, console_url: str) -> None:
    no = _payments_of(console_settings, STORE_A)[0]
    with httpx.Client(base_url=console_url) as client:
        for path in ("/today", "/payments", f"/payments/{no}", "/payments.csv", "/audit"):
            answer = client.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/login", path
            assert no not in answer.text


def test_forms_without_their_token_are_refused(console_settings: Settings, console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        # The sign-in form: a post without the nonce cookie its token was made for is refused.
        token = login_form_token(client)
        client.cookies.clear()
        refused = client.post("/login", data={"form_token": token, "name": OWNER, "password": PASSWORD})
        assert refused.status_code == 403 and SESSION_COOKIE not in refused.cookies
        login_form_token(client)  # a fresh nonce cookie, but a token made for another nonce
        refused = client.post("/login", data={"form_token": token, "name": OWNER, "password": PASSWORD})
        assert refused.status_code == 403 and SESSION_COOKIE not in refused.cookies
        # Signed in: sign-out without (or with a wrong) CSRF token does nothing.
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        for data in ({}, {"csrf": "forged"}):
            assert client.post("/logout", data=data).status_code == 403
            assert client.get("/today").status_code == 200
        assert client.post("/logout", data={"csrf": csrf_of(client)}).status_code == 303
        assert client.get("/today").status_code == 303
    assert [a for _, a in _audit(console_settings)].count("logout") == 1


def test_a_cross_site_form_cannot_sign_the_manager_out(console_url: str, browser: webdriver.Chrome) -> None:
    sign_in(browser, console_url, OWNER, PASSWORD)
    attack = (
        f'<form id="f" method="post" action="{console_url}/logout"><input name="csrf" value="guess"></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    with serve_page(attack) as evil:
        browser.get(evil)
        deadline = time.monotonic() + 15
        while not browser.current_url.startswith(console_url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert browser.current_url.startswith(console_url)  # the forged form was posted
    browser.get(console_url + "/today")
    assert OWNER in text_of(browser, "who")  # still signed in


def test_a_planted_session_id_is_never_signed_in(console_url: str, browser: webdriver.Chrome) -> None:
    browser.get(console_url + "/login")
    planted = "attacker-chosen-session-id-0123456789"
    browser.add_cookie({"name": SESSION_COOKIE, "value": planted, "path": "/"})
    sign_in(browser, console_url, MANAGER_B, PASSWORD)
    issued = browser.get_cookie(SESSION_COOKIE)
    assert issued is not None and issued["value"] != planted and issued["httpOnly"] and issued["sameSite"] == "Strict"
    with httpx.Client(base_url=console_url, cookies={SESSION_COOKIE: planted}) as attacker:
        assert attacker.get("/today").status_code == 303
    with httpx.Client(base_url=console_url, cookies={SESSION_COOKIE: issued["value"]}) as victim:
        assert victim.get("/today").status_code == 200


def test_wrong_passwords_lock_the_account(console_settings: Settings, console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        for _ in range(accounts.FREE_FAILURES):
            assert http_sign_in(client, OWNER, "not the password").status_code == 401
        locked = http_sign_in(client, OWNER, PASSWORD)
        assert locked.status_code == 429 and "Too many wrong passwords" in locked.text
        assert SESSION_COOKIE not in client.cookies
    trail = _audit(console_settings)
    assert trail.count((OWNER, "login.failed")) == accounts.FREE_FAILURES
    assert (OWNER, "login.locked") in trail and (OWNER, "login") not in trail


def test_wrong_passwords_from_one_address_are_limited_whatever_the_names(console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        for i in range(10):
            assert http_sign_in(client, f"nobody{i}", "guess guess guess").status_code == 401
        limited = http_sign_in(client, MANAGER_A, PASSWORD)
        assert limited.status_code == 429 and "wait a minute" in limited.text


def test_a_disabled_account_is_signed_out_at_once(console_settings: Settings, console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, MANAGER_A, PASSWORD).status_code == 303
        assert client.get("/today").status_code == 200
        ledger = open_ledger(console_settings.database_url)
        accounts.disable_user(ledger, name=MANAGER_A, by="test")
        ledger.dispose()
        assert client.get("/today").status_code == 303
        assert http_sign_in(client, MANAGER_A, PASSWORD).status_code == 401


def test_refunds_of_the_day_are_listed_within_the_viewers_stores(console_settings: Settings, console_url: str) -> None:
    path = console_settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        expected = {
            store: {r[0] for r in db.execute(
                "SELECT r.out_refund_no FROM refunds r JOIN payments p ON p.out_trade_no = r.out_trade_no "
                "WHERE r.business_day = ? AND p.store_id = ?", (DAY, store))}
            for store in (STORE_A, STORE_B)
        }  # fmt: skip
    assert expected[STORE_A] and expected[STORE_B]
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, MANAGER_A, PASSWORD).status_code == 303
        page = client.get("/refunds", params={"day": DAY})
        assert set(re.findall(r"<td>(R\d{8}S\w+)</td>", page.text)) == expected[STORE_A]
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        page = client.get("/refunds", params={"day": DAY})
        assert set(re.findall(r"<td>(R\d{8}S\w+)</td>", page.text)) == expected[STORE_A] | expected[STORE_B]


def test_the_owner_reads_the_audit_trail(console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, MANAGER_B, "a wrong password").status_code == 401
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        rows = re.findall(r"<tr><td>[^<]+</td><td>([^<]*)</td><td>([^<]*)</td>", client.get("/audit").text)
    assert rows[:2] == [(OWNER, "login"), (MANAGER_B, "login.failed")]  # newest first
    assert ("test", "user.add") in rows
