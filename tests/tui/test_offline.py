"""Offline mode end to end (issue 7): the real app, a real journal, the real engine and sandbox
processes, and a real loopback link to the engine that the test cuts and restores (LinkProxy).

While the link is down the till sells for cash only and keeps its journal events; when it returns
the outbox drains to zero, the cashier is told "caught up", and whatever was left open (a payment
whose create never arrived, a refund left PENDING) is settled through the engine without anyone
pressing a key. A refused chain (a fork: two journals under one terminal id) shows in the status bar."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from pos_app.api.client import EngineClient
from pos_app.domain.errors import EngineUnavailable
from pos_app.domain.routing import route_auth_code
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import Refund, Sale, add_staff, open_journal, session_scope
from pos_app.terminal.cart import SaleDraft
from tests.link_proxy import LinkProxy
from tests.tui.support import screen_text, wait_until
from tests.tui.test_flows import SIZE, app_for, login, screen_name, type_amount

CAUGHT_UP = re.compile(r"Back online — (\d+) events sent, caught up")


def sale_state(journal_engine, out_trade_no: str) -> PaymentState:
    with session_scope(journal_engine) as session:
        sale = session.exec(select(Sale).where(Sale.out_trade_no == out_trade_no)).one()
        return PaymentState(sale.state)


def refund_states(journal_engine) -> list[RefundState]:
    with session_scope(journal_engine) as session:
        return [RefundState(r.state) for r in session.exec(select(Refund)).all()]


async def test_offline_then_back_online(settings, journal_engine, stack, client):
    paid_code = await stack.auth_code("wechat")
    lost_code = await stack.auth_code("wechat")
    proxy = LinkProxy(int(stack.engine_url.rsplit(":", 1)[1]))
    await proxy.up()
    linked = EngineClient(proxy.url, settings.terminal.terminal_id, client._key)
    app = app_for(settings, journal_engine, linked, health_interval_s=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await wait_until(pilot, lambda: app.engine_online is True, what="online")
        # A wallet sale paid while online: refunded later, while offline.
        paid = await app.till.start_micropay(SaleDraft(2000, "Goods"), route_auth_code(paid_code))
        await wait_until(pilot, lambda: sale_state(journal_engine, paid.out_trade_no) == PaymentState.PAID)
        await wait_until(pilot, lambda: app.till.unsent_count() == 0, what="synced before the outage")
        assert "sync refused" not in screen_text(app)

        await proxy.down()
        await wait_until(pilot, lambda: "OFFLINE" in screen_text(app), what="status bar OFFLINE")
        # Cash still sells.
        await type_amount(pilot, "7")
        await pilot.press("c")
        await wait_until(pilot, lambda: screen_name(app) == "CashScreen", what="cash")
        await pilot.press("1", "0", "enter")
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="cash result")
        assert "Change due ¥3.00" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "CheckoutScreen", what="next sale")
        # QR is refused with the cash-only message; nothing is journaled for it.
        sales_before = len(app.till.history())
        await type_amount(pilot, "5")
        await pilot.press("w")
        await wait_until(pilot, lambda: "Engine unreachable — cash only" in screen_text(app), what="QR refused")
        assert screen_name(app) == "CheckoutScreen" and len(app.till.history()) == sales_before
        # A payment whose create never reached the engine (intent journaled first), and a refund
        # left PENDING: both open, settled later with nobody pressing a key.
        lost = await app.till.start_micropay(SaleDraft(500, "Goods"), route_auth_code(lost_code))
        assert lost.error and sale_state(journal_engine, lost.out_trade_no) == PaymentState.CREATED
        app.till.check_manager("9999")  # the manager's PIN, as the refund screen asks it
        with pytest.raises(EngineUnavailable):
            await app.till.refund(paid.out_trade_no, 300, reason="damaged", manager="Demo Manager")
        assert refund_states(journal_engine) == [RefundState.PENDING]
        offline_events = app.till.unsent_count()
        assert offline_events >= 3  # the cash sale, the open payment's intent, the refund
        await wait_until(pilot, lambda: f"unsent {offline_events}" in screen_text(app), what="unsent shown")

        await proxy.up()
        await wait_until(pilot, lambda: CAUGHT_UP.search(screen_text(app)) is not None, what="caught up")
        match = CAUGHT_UP.search(screen_text(app))
        assert match is not None and int(match.group(1)) >= offline_events
        await wait_until(pilot, lambda: "● engine online" in screen_text(app), what="status bar online")
        await wait_until(
            pilot,
            lambda: sale_state(journal_engine, lost.out_trade_no) == PaymentState.CLOSED,
            what="open payment settled",
        )
        await wait_until(
            pilot,
            lambda: refund_states(journal_engine) == [RefundState.SUCCESS],
            what="open refund settled",
        )
        await wait_until(pilot, lambda: app.till.unsent_count() == 0 and app.unsent == 0, what="all sent")
        assert screen_name(app) == "CheckoutScreen"  # the cashier was never interrupted
        await proxy.down()
    assert sale_state(journal_engine, paid.out_trade_no) == PaymentState.PARTIALLY_REFUNDED


async def test_sync_refusal_shown_in_status_bar(settings, journal_engine, stack, client, tmp_path):
    # This terminal's journal reaches the engine first.
    app = app_for(settings, journal_engine, client, health_interval_s=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await wait_until(pilot, lambda: app.till.unsent_count() == 0, what="synced")
    # A second journal under the same terminal id (a restored-elsewhere or copied till): a fork.
    other = settings.model_copy(deep=True)
    other.terminal.journal_path = tmp_path / "other" / "journal.sqlite3"
    other.terminal.journal_path.parent.mkdir()
    forked = open_journal(other.path(other.terminal.journal_path))
    try:
        with session_scope(forked) as session:
            add_staff(session, "Other Cashier", "1234", "cashier", terminal_id=other.terminal.terminal_id)
        app = app_for(other, forked, client, health_interval_s=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "⚠ sync refused:" in screen_text(app), what="refusal shown")
            assert app.drain.status.error and app.drain.status.error in screen_text(app)
            assert app.till.unsent_count() > 0
    finally:
        forked.dispose()
