"""End to end: an engine that cannot serve the one code for every wallet (no OAuth secret for WeChat's
web authorisation) makes the till's Q key say so in plain words — and W / A still show the per-channel
codes. Real sandbox and engine children on loopback sockets, the till headless."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from pos_app.api.client import EngineClient
from pos_app.config import Settings, load_settings
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import Sale, session_scope
from pos_app.sandbox.demo import init_demo_profile
from pos_app.tui.app import make_app
from pos_app.tui.screens.checkout import CheckoutScreen
from pos_app.tui.screens.qr import QrScreen
from tests.tui.support import Stack, qr_drawn, qr_on_screen, screen_text, start_stack, wait_until

SIZE = (100, 30)
FALLBACK = "One code unavailable — press W for WeChat, A for Alipay."


def press_amount(amount: str) -> list[str]:
    return ["full_stop" if char == "." else char for char in amount]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """An engine that cannot serve the one code: the AppSecret file for WeChat's web authorisation is
    missing (the rest works: the per-channel codes are still taken)."""
    profile = init_demo_profile(tmp_path_factory.mktemp("no-one-qr") / "profile")
    settings = load_settings(profile.config)
    if settings.wechatpay.oauth_secret_file is not None:
        settings.path(settings.wechatpay.oauth_secret_file).unlink(missing_ok=True)
    yield from start_stack(settings)


async def test_an_engine_that_cannot_serve_the_one_code_falls_back_to_the_channel_codes(
    settings: Settings, journal_engine: Engine, client: EngineClient
) -> None:
    app = make_app(settings, engine_client=client, journal_engine=journal_engine, channels_interval_s=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
        await wait_until(pilot, lambda: not app.till.channel_board.one_qr, timeout=20, what="one code refused")
        await pilot.press(*press_amount("12.00"), "q")
        await wait_until(pilot, lambda: FALLBACK in screen_text(app), timeout=10, what="the fallback words")
        assert type(app.screen).__name__ == "CheckoutScreen" and not qr_drawn(app)
        assert app.till.pending() == []  # nothing was started

        await pilot.press("w")
        await wait_until(pilot, lambda: qr_drawn(app), timeout=20, what="the WeChat code")
        assert qr_on_screen(app).startswith("weixin://")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "CANCELED" in screen_text(app), timeout=30, what="order closed")


async def test_a_one_code_refused_when_created_offers_the_channel_codes_and_charges_nothing(
    settings: Settings, journal_engine: Engine, client: EngineClient
) -> None:
    """The till's last look said "one code available" (its board is a few seconds old): the engine
    refuses the order itself (409 one_qr_unavailable); the QR screen says so, the sale's intent is
    closed in the journal, and W shows WeChat's code for the same amount."""
    app = make_app(settings, engine_client=client, journal_engine=journal_engine, channels_interval_s=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
        await wait_until(pilot, lambda: not app.till.channel_board.one_qr, timeout=20, what="first look")
        await pilot.press(*press_amount("12.00"))
        # A stale board, as between two looks: Q is pressed before the till learns otherwise.
        app.till.channel_board = replace(app.till.channel_board, one_qr=True, one_qr_message=None)
        checkout = app.screen
        assert isinstance(checkout, CheckoutScreen)
        checkout.action_one_qr()
        await wait_until(pilot, lambda: FALLBACK in screen_text(app), timeout=20, what="the fallback words")
        assert type(app.screen).__name__ == "QrScreen" and not qr_drawn(app)
        assert app.till.pending() == []
        with session_scope(journal_engine) as session:
            [sale] = session.exec(select(Sale)).all()
            assert sale.state == PaymentState.CLOSED and sale.mode == PaymentMode.ONE_QR

        await pilot.press("w")
        await wait_until(pilot, lambda: qr_drawn(app), timeout=20, what="the WeChat code")
        assert qr_on_screen(app).startswith("weixin://")
        qr_screen = app.screen
        assert isinstance(qr_screen, QrScreen) and qr_screen.attempt is not None
        assert qr_screen.attempt.view is not None and qr_screen.attempt.view.amount_fen == 1200  # same sale
        await pilot.press("escape")
        await wait_until(pilot, lambda: "CANCELED" in screen_text(app), timeout=30, what="order closed")
