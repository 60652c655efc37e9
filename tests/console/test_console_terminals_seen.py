"""The Terminals page shows each till's version, when it was last seen (China time, "x min ago") and
how many journal events it still holds unsent — from a real till talking to a real engine over a
loopback socket, read by the console over another."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from importlib import metadata

import httpx

from pos_app.api.schemas import JournalEvent
from pos_app.config import Settings
from pos_app.console import accounts
from pos_app.domain.chain import GENESIS_HASH, event_hash, utc_text
from pos_app.domain.china_time import in_china
from pos_app.engine.store import open_ledger
from pos_app.engine.store.console_accounts import Role
from pos_app.engine.store.terminals import Terminal
from tests.console.engine_stack import EngineOnLoopback, serve_engine
from tests.console.support import PASSWORD, http_sign_in, serve_console

DEADLINE_S = 10.0


def chain(n: int) -> list[JournalEvent]:
    """A till's first ``n`` journal events, hashed with the journal's own scheme (the engine checks)."""
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        at = datetime(2026, 12, 6, 9, 0, seq, tzinfo=UTC)
        payload: dict[str, object] = {"sale": seq}
        digest = event_hash(seq=seq, kind="sale", payload=payload, at=utc_text(at), prev_hash=prev)
        events.append(JournalEvent(seq=seq, kind="sale", payload=payload, at=at, prev_hash=prev, hash=digest))
        prev = digest
    return events


async def _a_till_syncs(engine: EngineOnLoopback, store: str) -> None:
    """T001 activates, uploads 3 of its 5 journal events and says its head is 5."""
    stack = engine.stack
    async with stack.client("T001") as till:
        await till.activate(stack.new_code(), store, "T001", "Till 1")
        await till.sync_batch(chain(3), head_seq=5)


def _seen(engine: EngineOnLoopback) -> Terminal:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        row = engine.stack.registry.terminal("T001")
        if row is not None and row.last_seen_at is not None:
            return row
        assert time.monotonic() < deadline, "the engine never recorded the till as seen"
        time.sleep(0.02)


def _cells(html: str, terminal_id: str) -> dict[str, str]:
    row = re.search(rf"<tr><td>[^<]*</td><td>{terminal_id}</td>(.*?)</tr>", html, re.S)
    assert row is not None, html
    return {
        name: re.sub(r"<[^>]+>|\s+", " ", value).strip()
        for name, value in re.findall(r'<td class="(?:n )?(unsent|seen|version)">(.*?)</td>', row.group(1), re.S)
    }


def test_the_terminals_page_shows_version_last_seen_and_unsent(demo_settings: Settings) -> None:
    store = demo_settings.terminal.store_id
    with serve_engine(demo_settings) as engine:
        ledger = open_ledger(demo_settings.database_url)
        accounts.add_user(ledger, name="mgr", role=Role.MANAGER, store_id=store, password=PASSWORD, by="test")
        ledger.dispose()
        engine.run(_a_till_syncs(engine, store))
        seen_at = _seen(engine).last_seen_at
        assert seen_at is not None
        china = in_china(seen_at).strftime("%Y-%m-%d %H:%M:%S")  # the stores' time, UTC+8
        with serve_console(demo_settings) as console, httpx.Client(base_url=console) as browser:
            assert http_sign_in(browser, "mgr", PASSWORD).status_code == 303
            page = browser.get("/terminals")
            assert page.status_code == 200
            cells = _cells(page.text, "T001")
            assert cells["unsent"] == "2"
            assert cells["version"] == metadata.version("pos-app")
            assert re.fullmatch(rf"{china}\s+\((just now|[01] min ago)\)", cells["seen"]), cells
