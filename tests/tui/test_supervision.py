"""Issue 15, items 1–3 through the real app and real processes: the engine child killed (SIGKILL)
during a QR sale is restarted by the supervisor and the status bar says so, then clears; with the
engine away the QR screen withdraws its code and says what that means; Esc journals the cancel at
once and goes back; a customer who pays that cancelled QR anyway raises a money alert, shown at the
next sign-in, refunded with one key and the manager PIN.

This module kills its own stack's engine: it has the module-scoped stack to itself."""

from __future__ import annotations

import os
import signal
import time

from sqlmodel import select

from pos_app.domain.states import PaymentState
from pos_app.journal import JournalEvent, session_scope
from pos_app.journal.alerts import ACKNOWLEDGED, RAISED
from pos_app.terminal.alerts import CANCEL_REQUESTED
from pos_app.tui.widgets.status_bar import StatusBar
from tests.tui.support import Stack, qr_drawn, screen_text, wait_until
from tests.tui.test_flows import SIZE, app_for, login, sales, screen_name, type_amount


def kill_engine(stack: Stack) -> int:
    engine = next(child for child in stack.supervisor.children if child.name == "engine")
    pid = engine.process.pid
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_engine_healthy(stack: Stack, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while stack.supervisor.problem() is not None:
        assert time.monotonic() < deadline, "the engine did not come back"
        time.sleep(0.2)


def kinds(journal_engine, out_trade_no: str) -> list[str]:
    with session_scope(journal_engine) as session:
        events = session.exec(select(JournalEvent).where(JournalEvent.ref == out_trade_no)).all()
        return [e.kind for e in events]


def events_of_kind(journal_engine, kind: str) -> list[dict]:
    with session_scope(journal_engine) as session:
        return [e.payload for e in session.exec(select(JournalEvent).where(JournalEvent.kind == kind)).all()]


async def test_engine_killed_during_qr_is_restarted_and_the_sale_goes_on(settings, journal_engine, stack, client):
    app = app_for(settings, journal_engine, client, watchdog=stack.supervisor.problem, health_interval_s=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await login(pilot)
        await type_amount(pilot, "8.80")
        await pilot.press("w")
        await wait_until(pilot, lambda: qr_drawn(app), what="QR drawn")
        code_url = app.screen.attempt.view.code_url
        old_pid = kill_engine(stack)

        await wait_until(pilot, lambda: "engine restarting (1)" in screen_text(app), what="restarting shown")
        # The warning is whole at 80 columns, with the key to its detail.
        line = StatusBar.status_text(app, 78)
        assert "engine restarting (1) — F5" in line.plain and line.cell_len <= 78
        await wait_until(pilot, lambda: app.engine_online is False, what="offline seen")
        await wait_until(pilot, lambda: "do not hand over goods" in screen_text(app), what="engine-away words")
        assert not qr_drawn(app)  # a code the engine cannot confirm is not left for the customer
        await pilot.press("f5")
        await wait_until(pilot, lambda: screen_name(app) == "BackgroundModal", what="detail")
        assert "engine.log" in screen_text(app)
        await pilot.press("escape")

        # The supervisor restarts it; the status clears and the QR comes back.
        await wait_until(pilot, lambda: app.engine_online is True, timeout=60, what="engine back")
        await wait_until(pilot, lambda: "restarting" not in screen_text(app), timeout=30, what="status cleared")
        engine = next(child for child in stack.supervisor.children if child.name == "engine")
        assert engine.process.pid != old_pid and engine.exit_code() is None
        await wait_until(pilot, lambda: qr_drawn(app), what="QR shown again")
        await stack.pay_qr(code_url)
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", timeout=20, what="PAID")
    [sale] = sales(journal_engine)
    assert sale.state == PaymentState.PAID
    assert events_of_kind(journal_engine, RAISED) == []  # the cashier saw PAID: no alert


async def test_paid_after_cancel_is_an_alert_at_sign_in_refunded_with_one_key(settings, journal_engine, stack, client):
    wait_engine_healthy(stack)
    app = app_for(settings, journal_engine, client, watchdog=stack.supervisor.problem, health_interval_s=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await type_amount(pilot, "6.60")
        await pilot.press("a")
        await wait_until(pilot, lambda: qr_drawn(app), what="QR drawn")
        attempt = app.screen.attempt
        kill_engine(stack)
        await wait_until(pilot, lambda: app.engine_online is False, what="offline seen")
        started = time.monotonic()
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen_name(app) == "CheckoutScreen", what="back to checkout")
        assert time.monotonic() - started < 2.0  # nothing waits on the engine that is away
        # The cancel intent is journaled at once; the sale waits in Open payments.
        assert CANCEL_REQUESTED in kinds(journal_engine, attempt.out_trade_no)
        assert [row.out_trade_no for row in app.till.pending()] == [attempt.out_trade_no]
    # The till is closed; the customer pays the QR anyway.
    await stack.pay_qr(attempt.view.code_url)
    wait_engine_healthy(stack)

    app = app_for(settings, journal_engine, client, watchdog=stack.supervisor.problem)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"1234", "enter")
        # The engine's event stream may bring the PAID before sign-in; else Open payments settles it.
        shown = {"PendingScreen", "AttentionScreen"}
        await wait_until(pilot, lambda: screen_name(app) in shown, what="open payments or the alert")
        if screen_name(app) == "PendingScreen":
            await wait_until(pilot, lambda: "All settled" in screen_text(app), timeout=30, what="settled")
            await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "AttentionScreen", what="alert shown at sign-in")
        text = screen_text(app)
        assert attempt.out_trade_no in text and "¥6.60 PAID" in text and "cancelled" in text
        assert "refund" in text
        await pilot.press("r")
        await wait_until(pilot, lambda: screen_name(app) == "ManagerPinModal", what="manager PIN")
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: "Nothing needs attention" in screen_text(app), timeout=20, what="refunded")
        assert app.alerts == []
    [sale] = sales(journal_engine)
    assert sale.state == PaymentState.REFUNDED
    [raised] = events_of_kind(journal_engine, RAISED)
    assert raised["out_trade_no"] == attempt.out_trade_no and raised["saw"] == "cancelled"
    assert raised["became"] == "PAID" and raised["amount_fen"] == 660
    [acknowledged] = events_of_kind(journal_engine, ACKNOWLEDGED)
    assert acknowledged["action"] == "refunded" and acknowledged["cashier"] == "Demo Cashier"
