"""One snapshot per screen and modal (pytest-textual-snapshot), 80x24, with a fixed clock and an
engine that is down (so nothing on screen depends on the moment or the network). The journal is a
real file; sales are made through the real screens. Update only after looking:
``pytest tests/tui/test_snapshots.py --snapshot-update``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from pos_app.api.client import EngineClient
from pos_app.api.schemas import PaymentView
from pos_app.config import Settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import add_staff, open_journal, session_scope
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.sales import Attempt
from pos_app.tui.app import PosApp, make_app
from tests.tui.support import settle_picture, wait_until

NOW = datetime(2026, 11, 22, 6, 30, 0, tzinfo=UTC)
SIZE = (80, 24)


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture
def snap_journal(demo_settings: Settings) -> Iterator[Engine]:
    engine = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    with session_scope(engine) as session:
        add_staff(session, "Demo Cashier", "1234", "cashier", terminal_id="T001", at=NOW)
        add_staff(session, "Demo Manager", "9999", "manager", terminal_id="T001", at=NOW)
    yield engine
    engine.dispose()


@pytest.fixture
def app(demo_settings: Settings, snap_journal: Engine) -> PosApp:
    # Port 9 (discard) on loopback: nothing listens, the engine is simply down.
    client = EngineClient("http://127.0.0.1:9", "T001", b"k" * 32)
    demo_settings.terminal.language = "en"  # the pictures are English whatever the machine's locale
    return make_app(
        demo_settings, engine_client=client, journal_engine=snap_journal, clock=fixed_clock, health_interval_s=60
    )


async def signed_in(pilot) -> None:
    await pilot.press(*"1234", "enter")
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ != "LoginScreen", what="signed in")
    await settle_picture(pilot)


async def cash_sale(pilot, amount: str, tendered: str) -> None:
    for char in amount:
        await pilot.press("full_stop" if char == "." else char)
    await pilot.press("c")
    await pilot.pause()
    await pilot.press(*tendered, "enter")
    await pilot.pause()


async def open_cash_sale(pilot):
    """Sign in, make a ¥37.50 cash sale (¥50 tendered) and open it from today's history."""
    await signed_in(pilot)
    await cash_sale(pilot, "37.5", "50")
    await pilot.press("h")
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


def test_login(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=settle_picture)


def test_void_reason(snap_compare, app):
    async def before(pilot):
        await open_cash_sale(pilot)
        await pilot.press("v")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_checkout_with_items(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await pilot.press("i", *"Flat white", "enter", "2", "enter", *"18.50", "enter")
        await pilot.press("i", *"Croissant", "enter", "enter", *"12", "enter")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_checkout_engine_down_refuses_qr(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await pilot.press("1", "2", "full_stop", "5", "w")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_item_modal(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await pilot.press("i", *"Tea", "enter", "3", "enter", *"1.234", "enter")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_cash(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await pilot.press("3", "7", "full_stop", "5", "c")
        await pilot.pause()
        await pilot.press(*"50")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_result_receipt(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await cash_sale(pilot, "37.5", "50")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_history(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await cash_sale(pilot, "37.5", "50")
        await pilot.press("enter")
        await cash_sale(pilot, "8", "")
        await pilot.press("h")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_sale_trail_and_refund_modal(snap_compare, app):
    async def before(pilot):
        await open_cash_sale(pilot)
        await pilot.press("r")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_manager_pin_wrong(snap_compare, app):
    async def before(pilot):
        await open_cash_sale(pilot)
        await pilot.press("v")
        await pilot.pause()
        await pilot.press("1")  # the reason: "Wrong amount"
        await pilot.pause()
        await pilot.press(*"1234", "enter")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_sale_after_void(snap_compare, app):
    async def before(pilot):
        await open_cash_sale(pilot)
        await pilot.press("v")
        await pilot.pause()
        await pilot.press("1")  # the reason: "Wrong amount"
        await pilot.pause()
        await pilot.press(*"9999", "enter")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_scan_refuses_a_non_wallet_code(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await pilot.press("5")
        # The engine is down, so the scan key is refused: open the scan screen directly.
        from pos_app.tui.screens.scan import ScanScreen

        await pilot.app.push_screen(ScanScreen(SaleDraft(500, "In-store purchase")))
        await pilot.pause()
        await pilot.press(*"6212345678901234567", "enter")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_qr_screen(snap_compare, app):
    """The QR screen drawing an order the engine created (given here as the engine's answer)."""

    async def before(pilot):
        await signed_in(pilot)
        from pos_app.tui.screens.qr import QrScreen

        draft = SaleDraft(1250, "In-store purchase")
        view = PaymentView(
            out_trade_no="P261122063000S00001T00100000001",
            terminal_id="T001",
            channel=Channel.WECHAT,
            mode=PaymentMode.NATIVE,
            amount_fen=1250,
            subject="In-store purchase",
            operator="Demo Cashier",
            state=PaymentState.AWAITING_SCAN,
            code_url="weixin://wxpay/bizpayurl?pr=Ab1Cd2Ef3",
            expires_at=NOW + timedelta(minutes=5),
            created_at=NOW,
            updated_at=NOW,
        )
        attempt = Attempt(view.out_trade_no, draft, Channel.WECHAT, PaymentMode.NATIVE, "Demo Cashier", NOW, view)
        done: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        done.set_result(attempt)
        # The engine answered this order: the link is up (with the engine away the code is withdrawn).
        pilot.app.engine_online = True
        await pilot.app.push_screen(QrScreen(draft, Channel.WECHAT, starting=done))
        await settle_picture(pilot, engine_down=False)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_help(snap_compare, app):
    async def before(pilot):
        await signed_in(pilot)
        await pilot.press("f1")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)
