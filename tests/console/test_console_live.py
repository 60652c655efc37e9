"""The Today page's event stream: it says "changed" for the viewer's stores only, and ends with the session."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime

import httpx
from sqlmodel import Session

from pos_app.config import Settings
from pos_app.engine.store import open_ledger
from pos_app.engine.store.models import Payment
from tests.console.support import DAY, MANAGER_A, PASSWORD, STORE_A, STORE_B, csrf_of, http_sign_in


def _pay(settings: Settings, store: str, no: str) -> None:
    at = datetime.fromisoformat(f"{DAY}T16:00:00+08:00")
    ledger = open_ledger(settings.database_url)
    with Session(ledger) as session:
        session.add(Payment(out_trade_no=no, terminal_id="T001" if store == STORE_A else "U001", store_id=store,
                            channel="alipay", mode="native", amount_fen=500, subject="Live", operator="Ann",
                            state="PAID", business_day=DAY, created_at=at, updated_at=at, paid_at=at))  # fmt: skip
        session.commit()
    ledger.dispose()


def _seen(client: httpx.Client) -> str:
    found = re.search(r"seen=([^\"&]+)", client.get("/today", params={"day": DAY}).text)
    assert found is not None
    return httpx.URL("?seen=" + found.group(1).replace("&amp;", "&")).params["seen"]


def test_another_stores_payment_is_not_announced_and_the_stream_ends_at_sign_out(
    console_settings: Settings, console_url: str
) -> None:
    with httpx.Client(base_url=console_url, timeout=30) as client:
        assert http_sign_in(client, MANAGER_A, PASSWORD).status_code == 303
        seen, csrf = _seen(client), csrf_of(client)
        lines: list[str] = []
        ended = threading.Event()

        def listen() -> None:
            params = {"day": DAY, "store": STORE_B, "seen": seen}  # asking for store B still watches store A only
            with client.stream("GET", "/today/changes", params=params) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                for line in stream.iter_lines():
                    lines.append(line)
            ended.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        _pay(console_settings, STORE_B, "P20261205BONLY0001")
        time.sleep(1.0)  # several looks (every 0.2 s) at the ledger: none may announce store B's payment
        assert "data: changed" not in lines
        _pay(console_settings, STORE_A, "P20261205AONLY0001")
        deadline = time.monotonic() + 20
        while "data: changed" not in lines:
            assert time.monotonic() < deadline, "store A's payment was not announced"
            time.sleep(0.05)
        with httpx.Client(base_url=console_url, cookies=dict(client.cookies)) as other_tab:
            assert other_tab.post("/logout", data={"csrf": csrf}).status_code == 303
        assert ended.wait(20), "the stream outlived the session"
        assert lines.count("data: changed") == 1
