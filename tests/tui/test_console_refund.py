"""Issue 17: a refund started in the manager console (signed as the console, through the engine's
/console/v1) shows on the till that took the payment — the real app with its event stream, a real
journal, the real engine and sandbox processes, and a real loopback link the test cuts (LinkProxy).

The till journals the refund once (marked as made in the manager console), moves the sale, counts it
in X/Z, uploads it, and the engine's journal-vs-ledger comparison agrees; with the link down during
the refund, the till catches up when the link returns.
"""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from pos_app.api.client import EngineClient
from pos_app.api.console_link import Acting, ConsoleRefund
from pos_app.api.schemas import RefundView
from pos_app.console.engine_key import make_engine_key
from pos_app.console.engine_link import EngineLink
from pos_app.domain.routing import route_auth_code
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.sync_compare import compare_terminal_day
from pos_app.journal import Refund, Sale, session_scope
from pos_app.terminal.cart import SaleDraft
from tests.link_proxy import LinkProxy
from tests.tui.support import Stack, screen_text, wait_until
from tests.tui.test_flows import SIZE, app_for, login, screen_name

CONSOLE_USER = Acting(user="mgr-a", stores=None)


@pytest.fixture(scope="module")
def console_link(stack: Stack) -> EngineLink:
    """The console's signed link to the engine (the engine reads its key file on each request)."""
    key_file = stack.settings.path(stack.settings.console.engine_key_file)
    make_engine_key(key_file)
    return EngineLink(stack.engine_url, key_file)


def refunds(journal_engine) -> list[Refund]:
    with session_scope(journal_engine) as session:
        return list(session.exec(select(Refund).order_by(Refund.id)).all())


def sale_of(journal_engine, out_trade_no: str) -> Sale:
    with session_scope(journal_engine) as session:
        return session.exec(select(Sale).where(Sale.out_trade_no == out_trade_no)).one()


def console_refund(out_trade_no: str, amount_fen: int) -> ConsoleRefund:
    return ConsoleRefund(
        acting=CONSOLE_USER, out_trade_no=out_trade_no, out_refund_no="R" + secrets.token_hex(12),
        amount_fen=amount_fen, reason="broken cup", approver="Demo Manager", approver_pin="9999",
    )  # fmt: skip


async def settled_view(client: EngineClient, out_trade_no: str, out_refund_no: str, pilot) -> RefundView:
    """The engine's final view of the refund (the sandbox settles it within seconds)."""
    views: list[RefundView] = []

    async def final() -> bool:
        views.append(await client.get_refund(out_trade_no, out_refund_no))
        return views[-1].state in (RefundState.SUCCESS, RefundState.FAILED)

    for _attempt in range(150):
        if await final():
            return views[-1]
        await pilot.pause(0.2)
    raise AssertionError(f"refund {out_refund_no} did not settle: {views[-1].state}")


def agreement(stack: Stack, terminal_id: str, day: date) -> tuple[bool, list[str]]:
    ledger = create_engine(stack.settings.database_url)
    try:
        with Session(ledger) as session:
            compared = compare_terminal_day(session, terminal_id, day)
    finally:
        ledger.dispose()
    return compared.agrees, [d.message for d in compared.differences]


async def paid_sale(app, stack: Stack, journal_engine, pilot, amount_fen: int = 2000) -> str:
    code = await stack.auth_code("wechat")
    paid = await app.till.start_micropay(SaleDraft(amount_fen, "Goods"), route_auth_code(code))
    await wait_until(pilot, lambda: sale_of(journal_engine, paid.out_trade_no).state == PaymentState.PAID)
    return paid.out_trade_no


async def test_a_console_refund_shows_on_the_till_once_and_the_day_agrees(
    settings, journal_engine, stack, client, console_link
):
    app = app_for(settings, journal_engine, client)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        out_trade_no = await paid_sale(app, stack, journal_engine, pilot)
        made = await console_link.refund(console_refund(out_trade_no, 500))
        # Heard on the till's event stream, nobody pressing a key.
        await wait_until(
            pilot,
            lambda: [RefundState(r.state) for r in refunds(journal_engine)] == [RefundState.SUCCESS],
            timeout=30,
            what="console refund journaled and settled",
        )
        final = await settled_view(client, out_trade_no, made.out_refund_no, pilot)
        assert final.state is RefundState.SUCCESS and final.operator == "console:mgr-a"
        # The same refund heard again (a replayed event, the settle path) is still one row.
        assert app.till.apply_refund(final) is False
        [row] = refunds(journal_engine)
        assert (row.out_refund_no, row.amount_fen, row.origin) == (made.out_refund_no, 500, "console")
        assert (row.cashier, row.approved_by) == ("console:mgr-a", "Demo Manager")
        sale = sale_of(journal_engine, out_trade_no)
        assert (sale.state, sale.refunded_fen) == (PaymentState.PARTIALLY_REFUNDED, 500)
        # History line and detail trail say where it was made.
        [line] = [r for r in app.till.history() if r.out_trade_no == out_trade_no]
        assert line.refunded_elsewhere and line.elsewhere_words == "made in the manager console"
        assert line.refunded_fen == 500
        trail = [t.summary for t in app.till.trail(out_trade_no)]
        assert any("made in the manager console" in s and "¥5.00" in s for s in trail), trail
        # On screen too: the history line (h) and the sale's trail (Enter).
        await pilot.press("h")
        await wait_until(pilot, lambda: screen_name(app) == "HistoryScreen", what="history")
        await wait_until(pilot, lambda: "made in the manager console" in screen_text(app), what="history mark")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "SaleScreen", what="the sale")
        assert app.screen.out_trade_no == out_trade_no
        await wait_until(pilot, lambda: "made in the manager console" in screen_text(app), what="trail mark")
        # X counts it as a refund.
        day = app.till.today()
        totals = app.till.day_view(day).totals.total
        assert (totals.refunds_count, totals.refunds_fen) == (1, 500)
        # Uploaded: the engine's journal-vs-ledger comparison agrees.
        await wait_until(pilot, lambda: app.till.unsent_count() == 0, timeout=30, what="journal uploaded")
        agrees, differences = agreement(stack, settings.terminal.terminal_id, date.fromisoformat(sale.business_day))
        assert agrees, differences


async def test_a_console_refund_made_while_the_link_was_down_arrives_when_it_returns(
    settings, journal_engine, stack, client, console_link
):
    proxy = LinkProxy(int(stack.engine_url.rsplit(":", 1)[1]))
    await proxy.up()
    linked = EngineClient(proxy.url, settings.terminal.terminal_id, client._key)
    app = app_for(settings, journal_engine, linked, health_interval_s=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await wait_until(pilot, lambda: app.engine_online is True, what="online")
        out_trade_no = await paid_sale(app, stack, journal_engine, pilot)
        await wait_until(pilot, lambda: app.till.unsent_count() == 0, what="synced before the outage")
        await wait_until(pilot, lambda: app.events_connected, what="event stream connected")

        await proxy.down()
        await wait_until(pilot, lambda: app.engine_online is False, what="offline")
        made = await console_link.refund(console_refund(out_trade_no, 2000))  # the console reaches the engine
        final = await settled_view(client, out_trade_no, made.out_refund_no, pilot)
        assert final.state is RefundState.SUCCESS
        assert refunds(journal_engine) == []  # the till cannot know yet

        await proxy.up()
        await wait_until(
            pilot,
            lambda: [RefundState(r.state) for r in refunds(journal_engine)] == [RefundState.SUCCESS],
            timeout=40,
            what="caught up with the console refund",
        )
        sale = sale_of(journal_engine, out_trade_no)
        assert (sale.state, sale.refunded_fen) == (PaymentState.REFUNDED, 2000)
        [row] = refunds(journal_engine)
        assert row.origin == "console" and row.out_refund_no == made.out_refund_no
        await wait_until(pilot, lambda: app.till.unsent_count() == 0, timeout=30, what="journal uploaded")
        agrees, differences = agreement(stack, settings.terminal.terminal_id, date.fromisoformat(sale.business_day))
        assert agrees, differences
        await proxy.down()
