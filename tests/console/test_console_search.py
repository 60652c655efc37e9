"""The payment search answers what the ledger holds: by order number, transaction id, amount, time,
state and till, newest first, page by page; bad input is a message, not a search."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import UTC, datetime

import httpx

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from tests.console.support import OWNER, PASSWORD, http_sign_in


def _listed(page: httpx.Response) -> list[str]:
    return re.findall(r'href="/payments/(\w+)"', page.text)


def _ledger(settings: Settings, where: str, *args: object) -> set[str]:
    path = settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {r[0] for r in db.execute(f"SELECT out_trade_no FROM payments WHERE {where}", args)}


def test_each_filter_finds_exactly_the_matching_payments(console_settings: Settings, console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        some = sorted(_ledger(console_settings, "1"))[7]
        assert _listed(client.get("/payments", params={"order": some})) == [some]
        prefix = some[:-2]
        assert set(_listed(client.get("/payments", params={"order": prefix}))) == _ledger(
            console_settings, "out_trade_no LIKE ?", prefix + "%"
        )
        txn = "4200" + some[-6:].rjust(10, "0")
        assert _listed(client.get("/payments", params={"txn": txn})) == sorted(
            _ledger(console_settings, "transaction_id = ?", txn)
        )
        assert set(_listed(client.get("/payments", params={"amount": "1.74"}))) == _ledger(
            console_settings, "amount_fen = 174"
        )
        assert set(_listed(client.get("/payments", params={"state": "REFUNDED", "till": "U002"}))) == _ledger(
            console_settings, "state = 'REFUNDED' AND terminal_id = 'U002'"
        )
        since, until = "2026-12-05T09:00", "2026-12-05T10:00"
        in_hour = _ledger(
            console_settings,
            "created_at >= ? AND created_at < ?",
            *(
                datetime.fromisoformat(t).replace(tzinfo=CHINA_TZ).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
                for t in (since, until)
            ),
        )
        assert in_hour and set(_listed(client.get("/payments", params={"since": since, "until": until}))) == in_hour


def test_pages_run_newest_first_and_meet_without_overlap(console_settings: Settings, console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        seen: list[str] = []
        page = client.get("/payments")
        while True:
            seen += _listed(page)
            older = re.search(r'href="(/payments\?[^"]*before=\d+)" id="older"', page.text)
            if older is None:
                break
            page = client.get(older.group(1).replace("&amp;", "&"))
    assert len(seen) == len(set(seen)) == len(_ledger(console_settings, "1"))


def test_bad_input_is_a_message_and_no_search(console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        assert http_sign_in(client, OWNER, PASSWORD).status_code == 303
        for params, message in (
            ({"amount": "12.345"}, "Type the amount in yuan"),
            ({"amount": "-3"}, "Type the amount in yuan"),
            ({"since": "yesterday"}, "Type times as"),
            ({"state": "STOLEN"}, "Choose a state"),
            ({"order": "<script>"}, "letters and digits"),
        ):
            page = client.get("/payments", params=params)
            assert page.status_code == 400 and message in page.text and not _listed(page)
        assert "<script>" not in client.get("/payments", params={"order": "<script>"}).text
