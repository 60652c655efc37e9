"""Issue 15, item 9 through the real app, a real journal file and the real engine and sandbox
processes: today's sales are searched as the cashier types (no key first), by field without false
matches ("cash" is not every sale of "Demo Cashier"), and Enter opens the chosen sale at once."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.tui.support import wait_until
from tests.tui.test_flows import SIZE, app_for, login, sales, scan_payment, screen_name, type_amount


def orders_shown(app) -> list[str]:
    table = app.screen.query_one("#history-table", DataTable)
    return [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]


async def search(pilot, text: str) -> None:
    await pilot.press("ctrl+u", *("colon" if char == ":" else char for char in text))


async def test_type_to_search_by_field_and_enter_opens_at_once(settings, journal_engine, stack, client):
    code = await stack.auth_code("wechat")
    app = app_for(settings, journal_engine, client)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await type_amount(pilot, "12")
        await pilot.press("c", "enter")  # exact cash
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="cash sale")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "CheckoutScreen", what="checkout")
        await type_amount(pilot, "7.30")
        await scan_payment(pilot, code)
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="PAID")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "CheckoutScreen", what="checkout")
        cash, wechat = (sale.out_trade_no for sale in sales(journal_engine))

        await pilot.press("h")
        await wait_until(pilot, lambda: screen_name(app) == "HistoryScreen", what="history")
        assert sorted(orders_shown(app)) == sorted([cash, wechat])
        await search(pilot, "cash")  # typed straight away: no "/" first
        await wait_until(pilot, lambda: orders_shown(app) == [cash], what="cash sales only")
        await search(pilot, "cashier:demo")
        await wait_until(pilot, lambda: len(orders_shown(app)) == 2, what="both by cashier")
        await search(pilot, "7.30")
        await wait_until(pilot, lambda: orders_shown(app) == [wechat], what="by amount")
        await search(pilot, "wechat")
        await wait_until(pilot, lambda: orders_shown(app) == [wechat], what="by channel")
        await pilot.press("enter")  # once
        await wait_until(pilot, lambda: screen_name(app) == "SaleScreen", what="the sale, first Enter")
        assert app.screen.out_trade_no == wechat
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen_name(app) == "HistoryScreen", what="back")
        await search(pilot, "")
        await wait_until(pilot, lambda: len(orders_shown(app)) == 2, what="all again")
        first, second = orders_shown(app)
        await pilot.press("down", "enter")  # ↑↓ choose while the search keeps the keys
        await wait_until(pilot, lambda: screen_name(app) == "SaleScreen", what="the second sale")
        assert app.screen.out_trade_no == second
