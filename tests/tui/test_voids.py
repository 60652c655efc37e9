"""Issue 15, item 8 through the real app, a real journal file and the real engine and sandbox
processes: `v` asks a reason (one key or typed) and the manager PIN; a wallet sale is voided through
the engine's void (not a refund): an Alipay QR sale is paid back by a refund and labelled
"void (refunded)", a WeChat payment-code sale is reversed and labelled "voided"; the journal names
the reason and the approving manager, and the day's figures count a void, never a refund."""

from __future__ import annotations

from sqlmodel import select

from pos_app.api.schemas import VoidKind
from pos_app.domain.routing import route_auth_code
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import JournalEvent, Refund, Sale, record_wallet_void, session_scope
from pos_app.journal.reports import daily_totals
from pos_app.terminal.alerts import AlertKind
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.till import Till
from pos_app.terminal.voids import void_refund_no
from tests.tui.support import qr_drawn, screen_text, wait_until
from tests.tui.test_flows import SIZE, app_for, login, sales, scan_payment, screen_name, type_amount


async def open_last_sale(pilot) -> None:
    await pilot.press("enter")  # the result screen: next customer
    await wait_until(pilot, lambda: screen_name(pilot.app) == "CheckoutScreen", what="checkout")
    await pilot.press("h")
    await wait_until(pilot, lambda: screen_name(pilot.app) == "HistoryScreen", what="history")
    await pilot.press("enter")
    await wait_until(pilot, lambda: screen_name(pilot.app) == "SaleScreen", what="sale")


async def void_with(pilot, *reason_keys: str, pin: str = "9999") -> None:
    await pilot.press("v")
    await wait_until(pilot, lambda: screen_name(pilot.app) == "VoidReasonModal", what="reason modal")
    await pilot.press(*reason_keys)
    await wait_until(pilot, lambda: screen_name(pilot.app) == "ManagerPinModal", what="pin modal")
    await pilot.press(*pin, "enter")
    await wait_until(pilot, lambda: screen_name(pilot.app) == "SaleScreen", what="back on the sale")


def void_rows(journal_engine) -> list[Refund]:
    with session_scope(journal_engine) as session:
        return list(session.exec(select(Refund)).all())


def figures(journal_engine, business_day: str, terminal_id: str) -> dict[str, int]:
    with session_scope(journal_engine) as session:
        total = daily_totals(session, business_day, terminal_id=terminal_id).total
        return {
            "sales": total.sales_count,
            "voids": total.voids_count,
            "voids_fen": total.voids_fen,
            "refunds": total.refunds_count,
        }


async def test_alipay_qr_void_is_a_void_refunded_with_reason_and_manager(settings, journal_engine, stack, client):
    app = app_for(settings, journal_engine, client)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await type_amount(pilot, "18.80")
        await pilot.press("a")
        await wait_until(pilot, lambda: qr_drawn(app), what="QR drawn")
        await stack.pay_qr(app.screen.attempt.view.code_url)
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="PAID")
        await open_last_sale(pilot)
        await void_with(pilot, "2")  # "Customer changed their mind", one key
        await wait_until(pilot, lambda: "VOID (REFUNDED)" in screen_text(app), timeout=20, what="void answered")
        assert "Refund" not in app.screen.query_one("#sale-result").render().plain
        await wait_until(pilot, lambda: "void (refunded)" in screen_text(app), timeout=20, what="sale label")
    [sale] = sales(journal_engine)
    assert sale.state == PaymentState.REVERSED and sale.refunded_fen == 0
    [void] = void_rows(journal_engine)
    assert void.kind == "void" and void.state == RefundState.SUCCESS
    assert void.reason == "Customer changed their mind" and void.approved_by == "Demo Manager"
    assert void.out_refund_no == "V" + sale.out_trade_no  # the engine's number for a void's refund
    assert figures(journal_engine, sale.business_day, settings.terminal.terminal_id) == {
        "sales": 0,
        "voids": 1,
        "voids_fen": 1880,
        "refunds": 0,
    }


async def test_wechat_payment_code_void_is_reversed_and_labelled_voided(settings, journal_engine, stack, client):
    code = await stack.auth_code("wechat")
    app = app_for(settings, journal_engine, client)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await type_amount(pilot, "7.70")
        await scan_payment(pilot, code)
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="PAID")
        await open_last_sale(pilot)
        await void_with(pilot, "5", *"wrong goods", "enter")  # a reason typed
        await wait_until(pilot, lambda: "VOIDED" in screen_text(app), timeout=20, what="void answered")
        summary = app.screen.query_one("#sale-summary").render().plain
        assert "voided" in summary and "void (refunded)" not in summary
    [sale] = sales(journal_engine)
    assert sale.state == PaymentState.REVERSED
    [void] = void_rows(journal_engine)
    assert void.state == RefundState.SUCCESS and void.reason == "wrong goods" and void.approved_by == "Demo Manager"
    created = next(e for e in events_of(journal_engine, "refund.created"))
    assert created["reason"] == "wrong goods" and created["approved_by"] == "Demo Manager"
    assert figures(journal_engine, sale.business_day, settings.terminal.terminal_id)["voids"] == 1


async def test_cash_void_journals_the_reason_and_the_manager(settings, journal_engine, offline_client):
    app = app_for(settings, journal_engine, offline_client)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await type_amount(pilot, "12")
        await pilot.press("c")
        await pilot.press(*"20", "enter")
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="cash sale")
        await open_last_sale(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: screen_name(app) == "VoidReasonModal", what="reason modal")
        await pilot.press("escape")  # Esc on the reason: nothing is voided, no PIN asked
        await wait_until(pilot, lambda: screen_name(app) == "SaleScreen", what="back")
        assert sales(journal_engine)[0].state == PaymentState.PAID
        await void_with(pilot, "1")
        await wait_until(pilot, lambda: "VOIDED" in screen_text(app), what="voided")
    [sale] = sales(journal_engine)
    assert sale.state == PaymentState.REVERSED
    [voided] = events_of(journal_engine, "sale.voided")
    assert voided["reason"] == "Wrong amount" and voided["approved_by"] == "Demo Manager"


def events_of(journal_engine, kind: str) -> list[dict]:
    with session_scope(journal_engine) as session:
        return [e.payload for e in session.exec(select(JournalEvent).where(JournalEvent.kind == kind)).all()]


async def paid_micropay(stack, till: Till, amount_fen: int) -> str:
    attempt = await till.start_micropay(
        SaleDraft(amount_fen, "void settling"), route_auth_code(await stack.auth_code("alipay"))
    )
    assert attempt.state is PaymentState.PAID, attempt
    return attempt.out_trade_no


async def test_an_open_void_is_settled_as_a_void(settings, journal_engine, stack, client):
    """A void journaled but never answered (the till stopped, or the link broke, before the engine
    call): settling sends it with the approval still held, or, with none left (a restarted till),
    closes it as not made — the sale stays paid and an alert says so. Never sent as a plain refund."""
    till = Till(settings, journal_engine, client)
    till.login("1234")
    sent, unsent = await paid_micropay(stack, till, 410), await paid_micropay(stack, till, 420)
    for number in (sent, unsent):
        with session_scope(journal_engine) as session:
            record_wallet_void(
                session, number, cashier="Demo Cashier", approved_by="Demo Manager", reason="wrong amount",
                at=till.clock(), out_refund_no=void_refund_no(number),
            )  # fmt: skip
    till.refund_approvals[void_refund_no(sent)] = ("Demo Manager", "9999")  # the approval, still in memory
    report = await till.settle_all()
    assert report.refunds == {void_refund_no(sent): RefundState.SUCCESS, void_refund_no(unsent): RefundState.FAILED}
    with session_scope(journal_engine) as session:
        states = {sale.out_trade_no: sale.state for sale in session.exec(select(Sale)).all()}
    assert states == {sent: PaymentState.REVERSED, unsent: PaymentState.PAID}
    view = await client.get_payment(sent)
    assert view.void_kind is VoidKind.REFUNDED  # the engine made it a void, not a plain refund
    [alert] = till.open_alerts()
    assert alert.out_trade_no == unsent and alert.kind is AlertKind.REFUND_FAILED


async def test_a_void_the_engine_did_not_answer_is_asked_again_with_v(settings, journal_engine, stack, client):
    """The link breaks as the void is sent: the screen says so (journaled, nothing lost); `v` asks
    the same void again (no second reason, the manager PIN again) and it goes through."""
    from pos_app.api.client import EngineClient
    from tests.link_proxy import LinkProxy

    code = await stack.auth_code("wechat")
    proxy = LinkProxy(int(stack.engine_url.rsplit(":", 1)[1]))
    await proxy.up()
    linked = EngineClient(proxy.url, settings.terminal.terminal_id, client._key)
    app = app_for(settings, journal_engine, linked, health_interval_s=60)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await type_amount(pilot, "3.30")
        await scan_payment(pilot, code)
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="PAID")
        await open_last_sale(pilot)
        await proxy.down()
        await void_with(pilot, "3")
        await wait_until(pilot, lambda: "v asks again" in screen_text(app), timeout=20, what="void not answered")
        [void] = void_rows(journal_engine)
        assert void.state == RefundState.PENDING and void.reason == "Charged twice"
        await proxy.up()
        await pilot.press("v")  # no reason asked this time: the journaled void is asked again
        await wait_until(pilot, lambda: screen_name(app) == "ManagerPinModal", what="pin modal")
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: "VOIDED" in screen_text(app), timeout=20, what="voided")
    [sale] = sales(journal_engine)
    assert sale.state == PaymentState.REVERSED
    [void] = void_rows(journal_engine)
    assert void.state == RefundState.SUCCESS
