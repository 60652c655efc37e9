"""End to end with real processes: `pos sandbox serve` and `pos engine serve` children, the TUI
headless, and a payment code read from a PICTURE: the sandbox issues a customer payment code, we
draw it as a QR image (qrcode lib), the cashier gives the file to the scan screen, pyzbar decodes it,
and the sale ends PAID in the terminal's journal."""

from __future__ import annotations

import pytest
import qrcode
from sqlmodel import select

from pos_app.domain.states import PaymentState
from pos_app.journal import JournalEvent, Sale, session_scope
from pos_app.tui.app import make_app
from tests.tui.support import screen_text, wait_until


@pytest.mark.parametrize("channel", ["wechat", "alipay"])
async def test_scanned_image_is_paid_into_the_journal(stack, settings, journal_engine, client, tmp_path, channel):
    code = await stack.auth_code(channel)
    picture = tmp_path / "customer-phone.png"
    qrcode.make(code).save(picture)

    app = make_app(settings, engine_client=client, journal_engine=journal_engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
        await pilot.press("2", "3", "full_stop", "4", "s")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ScanScreen", what="scan")
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TextModal", what="file prompt")
        await pilot.press(*str(picture), "enter")
        await wait_until(pilot, lambda: "PAID" in screen_text(app) and type(app.screen).__name__ == "ResultScreen")
        assert code[-4:] in screen_text(app) and code not in screen_text(app)

    with session_scope(journal_engine) as session:
        [sale] = session.exec(select(Sale)).all()
        assert sale.state == PaymentState.PAID and sale.amount_fen == 2340 and sale.channel == channel
        assert sale.transaction_id
        trail = session.exec(select(JournalEvent).where(JournalEvent.ref == sale.out_trade_no)).all()
        assert all(code not in event.payload_json for event in trail)
