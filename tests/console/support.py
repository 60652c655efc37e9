"""Support for the console tests: a ledger seeded with a chain's day of payments, the console served
by uvicorn on a loopback port (in a thread, for selenium's blocking calls), and Debian's headless chromium."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from selenium import webdriver
from sqlmodel import Session, select

from pos_app.config import Settings, load_settings
from pos_app.console import accounts
from pos_app.console.app import create_console_app
from pos_app.engine.store import open_ledger
from pos_app.engine.store.console_accounts import Role
from pos_app.engine.store.models import Attempt, Payment, Refund
from pos_app.engine.store.synced_journal import SyncedJournalEvent
from pos_app.engine.store.terminals import Terminal
from tests.link_proxy import free_port

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
DAY = "2026-12-05"
OTHER_DAY = "2026-12-04"
STORE_A, STORE_B = "S00001", "S00002"
OWNER, MANAGER_A, MANAGER_B = "owner", "mgr-a", "mgr-b"
PASSWORD = "correct horse battery"
STATES = ("PAID", "PAID", "PARTIALLY_REFUNDED", "REFUNDED", "CLOSED", "FAILED", "REVERSED", "USER_PAYING", "PAID")


def write_profile(home: Path, database_url: str = "sqlite:///engine.sqlite3") -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    (home / "pos.toml").write_text(
        f'[engine]\ndatabase_url = "{database_url}"\n[console]\nlive_poll_s = 0.2\n', "utf-8"
    )
    return load_settings(home / "pos.toml")


def _at(day: str, hour: int, minute: int) -> datetime:
    """A China-time wall clock moment of ``day`` as an aware UTC datetime."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00+08:00").astimezone(UTC)


def seed(settings: Settings) -> list[str]:
    """Two stores × two tills, two cashiers each, both channels, every kind of state, over two days,
    and the three console accounts. Returns every out_trade_no made."""
    ledger = open_ledger(settings.database_url)
    made: list[str] = []
    with Session(ledger) as session:
        for store in (STORE_A, STORE_B):
            for till in ("T001", "T002"):
                session.add(Terminal(terminal_id=till if store == STORE_A else till.replace("T", "U"), store_id=store,
                                     name=till, sealed_key="x", activated_at=datetime.now(UTC)))  # fmt: skip
        n = 0
        for day in (DAY, OTHER_DAY):
            for store in (STORE_A, STORE_B):
                for i in range(40):
                    n += 1
                    till = ("T001", "T002")[i % 2] if store == STORE_A else ("U001", "U002")[i % 2]
                    state = STATES[i % len(STATES)]
                    amount = 100 + 37 * i + (5000 if store == STORE_B else 0)
                    refunded = {"PARTIALLY_REFUNDED": amount // 3, "REFUNDED": amount}.get(state, 0)
                    at = _at(day, 8 + i % 13, i % 60)
                    paid = at + timedelta(seconds=3) if state in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED") else None
                    no = f"P{day.replace('-', '')}{store}{till}{n:06d}"
                    made.append(no)
                    session.add(
                        Payment(
                            out_trade_no=no, terminal_id=till, store_id=store,
                            channel=("wechat", "alipay")[i % 3 % 2], mode=("native", "micropay")[i % 2],
                            amount_fen=amount, subject="Goods", operator=("Ann", "李雷")[i % 4 // 2], state=state,
                            business_day=day, transaction_id=f"4200{n:010d}", masked_auth_code="**************1234",
                            refunded_fen=refunded, created_at=at, updated_at=at,
                            paid_at=paid,
                        )
                    )  # fmt: skip
                    session.add(Attempt(out_trade_no=no, op="micropay", outcome="paid", detail="SUCCESS", at=at))
                    if refunded:
                        later = at + timedelta(minutes=5)
                        session.add(Refund(out_refund_no=f"R{no[1:]}", out_trade_no=no, terminal_id=till,
                                           amount_fen=refunded, reason="Returned", operator="Ann", state="SUCCESS",
                                           business_day=day, approved_by="Boss", created_at=later, updated_at=later,
                                           succeeded_at=later))  # fmt: skip
        # A one-QR sale whose page no wallet has opened yet: no channel, no money.
        at = _at(DAY, 12, 0)
        session.add(Payment(out_trade_no=f"P20261205{STORE_A}T001QR0001", terminal_id="T001", store_id=STORE_A,
                            channel=None, mode="one_qr", amount_fen=990, subject="Goods", operator="Ann",
                            state="AWAITING_SCAN", business_day=DAY, created_at=at, updated_at=at))  # fmt: skip
        session.flush()
        _sync_journal(session)
        session.commit()
    accounts.add_user(ledger, name=OWNER, role=Role.OWNER, store_id=None, password=PASSWORD, by="test")
    accounts.add_user(ledger, name=MANAGER_A, role=Role.MANAGER, store_id=STORE_A, password=PASSWORD, by="test")
    accounts.add_user(ledger, name=MANAGER_B, role=Role.MANAGER, store_id=STORE_B, password=PASSWORD, by="test")
    ledger.dispose()
    return made


#: What the seeded journal of till T001 (store A) says differently from the ledger on DAY.
JOURNAL_REFUND_DIFFERS, JOURNAL_MISSING = 0, 1  # indexes into T001's money-in payments of DAY


def t001_money_in(session: Session) -> list[Payment]:
    return [
        p
        for p in session.exec(select(Payment).where(Payment.terminal_id == "T001", Payment.business_day == DAY))
        if p.state in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")
    ]


def _sync_journal(session: Session) -> None:
    """Till T001's journal as uploaded: one snapshot per sale of DAY, like the ledger but for one
    refund the till does not know of, one sale never uploaded, and a cash sale (the till's alone)."""
    money_in = t001_money_in(session)
    sales = [p for p in session.exec(select(Payment).where(Payment.terminal_id == "T001", Payment.business_day == DAY))]
    snapshots = []
    for p in sales:
        if p.out_trade_no == money_in[JOURNAL_MISSING].out_trade_no or p.channel is None:
            continue
        refunded = p.refunded_fen + (1 if p.out_trade_no == money_in[JOURNAL_REFUND_DIFFERS].out_trade_no else 0)
        snapshots.append({"out_trade_no": p.out_trade_no, "channel": p.channel, "amount_fen": p.amount_fen,
                          "state": p.state, "refunded_fen": refunded, "business_day": DAY})  # fmt: skip
    snapshots.append({"out_trade_no": "C0001", "channel": "cash", "amount_fen": 500, "state": "PAID",
                      "refunded_fen": 0, "business_day": DAY})  # fmt: skip
    now = datetime.now(UTC)
    for seq, snapshot in enumerate(snapshots, start=1):
        session.add(SyncedJournalEvent(terminal_id="T001", seq=seq, kind="sale.updated",
                                       payload_json=json.dumps({"sale": snapshot}), at=now, prev_hash="-",
                                       hash=f"h{seq}", received_at=now))  # fmt: skip


@dataclass(frozen=True)
class DayTotals:
    count: int
    amount_fen: int
    refunded_fen: int

    @property
    def net_fen(self) -> int:
        return self.amount_fen - self.refunded_fen


def independent_totals(settings: Settings, day: str, store: str | None = None) -> DayTotals:
    """The day's money-in totals summed in Python over raw ledger rows (sqlite3, not the console's SQL)."""
    path = settings.database_url[len("sqlite:///") :]
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT store_id, state, amount_fen, refunded_fen FROM payments WHERE business_day = ?",
                          (day,)).fetchall()  # fmt: skip
    kept = [r for r in rows if r[1] in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED") and (store is None or r[0] == store)]
    return DayTotals(len(kept), sum(r[2] for r in kept), sum(r[3] for r in kept))


@contextlib.contextmanager
def serve_console(settings: Settings) -> Iterator[str]:
    """The real console app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_console_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))


def login_form_token(client: httpx.Client) -> str:
    """Open the sign-in form (which sets its nonce cookie) and read the form's token."""
    page = client.get("/login")
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def http_sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    token = login_form_token(client)
    return client.post("/login", data={"form_token": token, "name": name, "password": password})


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/today")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


@contextlib.contextmanager
def serve_page(html: str) -> Iterator[str]:
    """A page on another origin (``localhost`` with its own port: another site than 127.0.0.1)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            body = html.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
