"""The checkout greys a wallet channel the engine's breaker refuses, says why, and offers it again once
the breaker closes: the real app, the real engine and sandbox processes, the sandbox's fault API."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
from textual.content import Content
from textual.widgets import Static

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.tui.app import make_app
from tests.tui.support import Stack, qr_drawn, screen_text, wait_until
from tests.tui.test_flows import login, screen_name, type_amount

SIZE = (80, 24)
WECHAT_DOWN = "WeChat Pay is not answering — use Alipay or cash."
#: Unanswered calls that open a breaker (BreakerPolicy.failures).
FAILURES_TO_OPEN = 5


def keys_line(app) -> Content:  # type: ignore[no-untyped-def]
    rendered = app.screen.query_one("#keys", Static).render()
    assert isinstance(rendered, Content)
    return rendered


def greyed(app, words: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``words`` of the keys line are drawn struck through (a refused key)."""
    line = keys_line(app)
    start = line.plain.find(words)
    if start < 0:
        return False
    return any(span.start <= start < span.end and "strike" in str(span.style) for span in line.spans)


async def open_the_wechat_breaker(stack: Stack, client: EngineClient, store: str, terminal: str) -> None:
    """WeChat answers every call with a system error; a few sales on it open its breaker."""
    async with httpx.AsyncClient(base_url=stack.sandbox_url) as sandbox:
        added = await sandbox.post("/sandbox/faults", json={"kind": "server_error", "gateway": "wechat"})
        assert added.status_code == 201, added.text
    orders = [
        CreatePayment(
            out_trade_no=make_trade_no(IdKind.PAYMENT, store=store, terminal=terminal, seq=90 + n, at=datetime.now()),
            amount_fen=100 + n,
            mode=PaymentMode.NATIVE,
            channel=Channel.WECHAT,
            subject="s",
            operator="o",
        )
        for n in range(FAILURES_TO_OPEN)
    ]
    views = await asyncio.gather(*(client.create_payment(order) for order in orders))
    assert all(view.code_url is None for view in views)  # none reached the customer


async def test_a_failing_channel_is_greyed_refused_and_offered_again(settings, journal_engine, stack, client):
    app = make_app(settings, engine_client=client, journal_engine=journal_engine, channels_interval_s=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        assert not greyed(app, "WeChat") and app.till.channel_board.offers(Channel.WECHAT)
        terminal = settings.terminal
        await open_the_wechat_breaker(stack, client, terminal.store_id, terminal.terminal_id)

        # Greyed with the engine's words, without a key pressed: the till polled the engine.
        await wait_until(pilot, lambda: greyed(app, "w WeChat"), timeout=30, what="WeChat key greyed")
        note = app.screen.query_one("#channel-note", Static)
        assert note.display and WECHAT_DOWN in str(note.render())
        assert not greyed(app, "a Alipay") and not greyed(app, "s scan")

        # Pressed anyway: refused with those words, no sale started.
        await type_amount(pilot, "8.80")
        await pilot.press("w")
        await pilot.pause(0.2)
        assert screen_name(app) == "CheckoutScreen"
        assert WECHAT_DOWN in str(app.screen.query_one("#amount-error", Static).render())
        assert app.till.pending() == []

        # Alipay is offered: its QR comes up.
        await pilot.press("a")
        await wait_until(pilot, lambda: qr_drawn(app), timeout=20, what="Alipay QR")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "CANCELED" in screen_text(app), timeout=30, what="Alipay QR cancelled")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "CheckoutScreen", what="back at checkout")

        # The gateway answers again: a probe closes the breaker and the key comes back.
        async with httpx.AsyncClient(base_url=stack.sandbox_url) as sandbox:
            (await sandbox.delete("/sandbox/faults")).raise_for_status()
        await wait_until(
            pilot, lambda: app.till.channel_board.offers(Channel.WECHAT), timeout=60, what="WeChat offered again"
        )
        await wait_until(pilot, lambda: not greyed(app, "WeChat"), timeout=5, what="WeChat key restored")
        assert not app.screen.query_one("#channel-note", Static).display
        assert "WeChat" in keys_line(app).plain and "Alipay" in keys_line(app).plain
