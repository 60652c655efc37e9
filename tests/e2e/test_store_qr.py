"""End to end, the store's printed QR (台卡), with real processes on loopback sockets (sandbox and
engine children), the till headless and the sandbox's simulated phone.

`pos qr print` asks the engine for the till's code and writes the card; the code is read back off the
card (pyzbar); customers scan it and type their amounts. The till shows each payment live
("¥23.00 received — WeChat Pay — … — Till 7"), journals it once as a sale of the open shift, and a
duplicate or late event, or the catch-up after a break, changes nothing. A payment made while the
till was closed is journaled when it comes back (no shift open: journaled and said, never lost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import select

from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient, TerminalSigner
from pos_app.cli import cli
from pos_app.config import Settings, load_settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import Sale, add_staff, open_journal, session_scope
from pos_app.sandbox.demo import init_demo_profile
from pos_app.sandbox.phone import scan
from pos_app.scan.image import decode_image
from pos_app.tui.app import make_app
from tests.tui.support import Stack, screen_text, start_stack, wait_until

SIZE = (100, 30)
TILL = "Till 7"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    profile = init_demo_profile(tmp_path_factory.mktemp("store-qr") / "profile")
    yield from start_stack(load_settings(profile.config))


@pytest.fixture
def till_home(stack: Stack, tmp_path: Path) -> Path:
    """A till's own profile (pos.toml + its activated terminal key), as `pos qr print` reads it."""
    settings = stack.terminal_settings(tmp_path)
    terminal = settings.terminal

    async def activate() -> str:
        async with EngineClient(stack.engine_url, terminal.terminal_id, None) as client:
            response = await client.activate(stack.activation_code(), terminal.store_id, terminal.terminal_id, TILL)
            return response.terminal_key

    (tmp_path / "terminal.key").write_text(asyncio.run(activate()) + "\n", "utf-8")
    (tmp_path / "terminal.key").chmod(0o600)
    (tmp_path / "pos.toml").write_text(
        "[terminal]\n"
        f'engine_url = "{stack.engine_url}"\n'
        f'store_id = "{terminal.store_id}"\n'
        f'terminal_id = "{terminal.terminal_id}"\n'
        f'name = "{TILL}"\n'
        'terminal_key_file = "terminal.key"\n'
        'journal_path = "journal.sqlite3"\n'
        f"sandbox = {str(terminal.sandbox).lower()}\n",
        "utf-8",
    )
    return tmp_path


@pytest.fixture
def settings(till_home: Path) -> Settings:
    return load_settings(till_home / "pos.toml")


@pytest.fixture
def journal_engine(settings: Settings) -> Iterator[Engine]:
    engine = open_journal(settings.path(settings.terminal.journal_path))
    with session_scope(engine) as session:
        add_staff(session, "Demo Cashier", "1234", "cashier", terminal_id=settings.terminal.terminal_id)
    yield engine
    engine.dispose()


def print_card(till_home: Path, *extra: str) -> str:
    """`pos qr print` for this till; the URL read back off the card it wrote."""
    card = till_home / "card.png"
    result = CliRunner().invoke(
        cli, ["qr", "print", "--config", str(till_home / "pos.toml"), "--out", str(card), *extra]
    )
    assert result.exit_code == 0, result.output
    assert "Card written" in result.output
    [symbol] = decode_image(card)
    return symbol.data


async def terminal_comparison(settings: Settings, key: bytes) -> list[dict[str, Any]]:
    """The engine's comparison of this till's synced journal with its ledger (`GET /v1/reports/terminals`)."""
    auth = TerminalSigner(settings.terminal.terminal_id, key)
    async with httpx.AsyncClient(base_url=settings.terminal.engine_url, auth=auth) as http:
        response = await http.get("/v1/reports/terminals")
    response.raise_for_status()
    days: list[dict[str, Any]] = response.json()
    return days


def test_qr_print_writes_the_tills_code_and_rotate_replaces_it(till_home: Path) -> None:
    first = print_card(till_home)
    assert "/s/" in first
    assert print_card(till_home) == first  # the same code every time
    rotated = print_card(till_home, "--rotate")
    assert rotated != first and "/s/" in rotated
    pdf = till_home / "card.pdf"
    result = CliRunner().invoke(cli, ["qr", "print", "--config", str(till_home / "pos.toml"), "--out", str(pdf)])
    assert result.exit_code == 0 and pdf.read_bytes().startswith(b"%PDF-")


async def test_store_code_paid_twice_is_shown_live_and_journaled_once_each(
    till_home: Path, settings: Settings, journal_engine: Engine
) -> None:
    url = await asyncio.to_thread(print_card, till_home)
    key = decode_key((till_home / "terminal.key").read_text("utf-8"))
    client = EngineClient(settings.terminal.engine_url, settings.terminal.terminal_id, key)

    # A customer pays while the till is closed: journaled when it opens (no shift: said, not lost).
    early = await scan(url, app="alipay", amount_fen=880)
    assert early.result is not None and early.result.get("state") == PaymentState.PAID.value

    app = make_app(settings, engine_client=client, journal_engine=journal_engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
        await wait_until(pilot, lambda: "¥8.80 received — Alipay" in screen_text(app), timeout=20, what="catch-up")
        assert "No shift is open" in screen_text(app)
        app.till.open_shift({10000: 1})

        # Two customers in a row, different amounts and wallets: each said live on the till.
        customers = ((2300, "wechat", "¥23.00 received — WeChat Pay"), (1550, "alipay", "¥15.50 received — Alipay"))
        for amount_fen, wallet, words in customers:
            outcome = await scan(url, app=wallet, amount_fen=amount_fen)  # type: ignore[arg-type]
            assert outcome.result is not None and outcome.result.get("state") == PaymentState.PAID.value
            await wait_until(pilot, lambda w=words: w in screen_text(app), timeout=20, what=words)  # type: ignore[misc]
            assert TILL in screen_text(app)

        # Late and duplicate news changes nothing: the catch-up again, and a repeated event.
        assert await app.till.catch_up_store() == []
        for view in await client.store_payments(app.till.store_since()):
            app.payment_changed(view)
        await pilot.pause(0.2)

        # The journal reaches the engine, whose copy agrees with its own ledger sale for sale.
        await wait_until(pilot, lambda: app.till.unsent_count() == 0, timeout=30, what="journal synced")
        [day] = await terminal_comparison(settings, key)
        assert day["differences"] == []
        synced = {row["channel"]: row["collected_fen"] for row in day["terminal"]}
        assert synced["wechat"] == 2300 and synced["alipay"] == 2430

    with session_scope(journal_engine) as session:
        sales = session.exec(select(Sale).where(Sale.mode == PaymentMode.STORE_QR)).all()
        by_amount = {sale.amount_fen: sale for sale in sales}
        assert sorted(by_amount) == [880, 1550, 2300]
        assert len({sale.out_trade_no for sale in sales}) == 3
        assert by_amount[880].shift_id is None and by_amount[880].channel == Channel.ALIPAY
        assert by_amount[2300].shift_id is not None and by_amount[2300].channel == Channel.WECHAT
        assert by_amount[1550].shift_id == by_amount[2300].shift_id and by_amount[1550].channel == Channel.ALIPAY
        assert all(sale.state == PaymentState.PAID and sale.transaction_id for sale in sales)
    totals = app.till.day_view(app.till.today()).totals
    assert totals.channels["wechat"].sales_fen == 2300 and totals.channels["alipay"].sales_fen == 2430
    await client.aclose()
