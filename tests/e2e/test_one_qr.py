"""End to end, the one code for every wallet (聚合码), with real processes on loopback sockets: the
sandbox (both gateways, their OAuth pages and JS bridges) and the engine as children, the till headless
(Textual's pilot), the sandbox's simulated phone following the page.

The cashier presses Q; the code is read off the till's screen the way a phone camera would (the QR
widget's rendered lines, decoded by pyzbar); the phone opens it in WeChat or Alipay, the till says
which, and the payment ends PAID on the till and in its journal. A cancel or a failure on the phone
leaves the order open on the till (the customer may scan again), never PAID. An engine that cannot
serve the one code makes Q say so, and W / A still show the per-channel codes.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import Sale, session_scope
from pos_app.sandbox.phone import scan
from pos_app.tui.app import make_app
from tests.tui.support import Stack, qr_drawn, qr_on_screen, screen_text, wait_until

SIZE = (100, 30)
OPENED = {"wechat": "Opened in WeChat", "alipay": "Opened in Alipay"}


def press_amount(amount: str) -> list[str]:
    return ["full_stop" if char == "." else char for char in amount]


@pytest.mark.parametrize("wallet", ["wechat", "alipay"])
async def test_one_code_scanned_in_each_wallet_is_paid_on_the_till(
    stack: Stack, settings: Settings, journal_engine: Engine, client: EngineClient, wallet: str
) -> None:
    app = make_app(settings, engine_client=client, journal_engine=journal_engine, poll_interval_s=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
        await pilot.press(*press_amount("23.40"), "q")
        await wait_until(pilot, lambda: qr_drawn(app), timeout=20, what="the one code on screen")
        assert "Scan with WeChat or Alipay" in screen_text(app)
        url = qr_on_screen(app)
        assert url.startswith(settings.engine.public_url.rstrip("/") + "/q/")
        assert re.fullmatch(r".*/q/[A-Za-z0-9_-]{16,}", url)

        outcome = await scan(url, app=wallet)  # type: ignore[arg-type]
        await wait_until(
            pilot,
            lambda: type(app.screen).__name__ == "ResultScreen" and "PAID" in screen_text(app),
            timeout=30,
            what="PAID on the till",
        )
        assert outcome.result is not None and outcome.result.get("state") == PaymentState.PAID.value

    with session_scope(journal_engine) as session:
        [sale] = session.exec(select(Sale)).all()
        assert sale.mode == PaymentMode.ONE_QR and sale.channel == Channel(wallet)
        assert sale.state == PaymentState.PAID and sale.amount_fen == 2340 and sale.transaction_id


@pytest.mark.parametrize(("wallet", "choice"), [("wechat", "cancel"), ("alipay", "fail")])
async def test_cancel_or_failure_on_the_phone_never_pays_and_the_till_says_which_wallet(
    stack: Stack, settings: Settings, journal_engine: Engine, client: EngineClient, wallet: str, choice: str
) -> None:
    app = make_app(settings, engine_client=client, journal_engine=journal_engine, poll_interval_s=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
        await pilot.press(*press_amount("9.90"), "q")
        await wait_until(pilot, lambda: qr_drawn(app), timeout=20, what="the one code on screen")
        url = qr_on_screen(app)

        outcome = await scan(url, app=wallet, choice=choice)  # type: ignore[arg-type]
        assert outcome.result is not None and outcome.result.get("state") != PaymentState.PAID.value
        # The page was opened in that wallet: the till says so (the event stream, or its poll).
        await wait_until(pilot, lambda: OPENED[wallet] in screen_text(app), timeout=20, what=OPENED[wallet])
        assert type(app.screen).__name__ == "QrScreen" and "PAID" not in screen_text(app)
        assert qr_drawn(app)  # the customer may scan again

        # The cashier gives up: the order is closed at the gateway, nothing was charged.
        await pilot.press("escape")
        await wait_until(pilot, lambda: "CANCELED" in screen_text(app), timeout=30, what="order closed")

    with session_scope(journal_engine) as session:
        [sale] = session.exec(select(Sale)).all()
        assert sale.mode == PaymentMode.ONE_QR and sale.channel == Channel(wallet)
        assert sale.state == PaymentState.CLOSED
