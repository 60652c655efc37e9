"""Issue 15, item 10 through the real app and the real engine and sandbox processes: WeChat Pay takes
one refund per order per minute. A second refund within the minute is said in words ("allows one
refund per order per minute — sent automatically at HH:MM:SS"), never "result not known"; the engine
sends it then by itself and the till picks up its end without a key pressed. Takes about a minute."""

from __future__ import annotations

import re

from sqlmodel import select

from pos_app.domain.states import RefundState
from pos_app.journal import Refund, session_scope
from tests.tui.support import screen_text, wait_until
from tests.tui.test_flows import SIZE, app_for, login, scan_payment, screen_name, type_amount
from tests.tui.test_voids import open_last_sale


async def refund(pilot, amount: str) -> None:
    await pilot.press("r")
    await wait_until(pilot, lambda: screen_name(pilot.app) == "RefundModal", what="refund modal")
    await pilot.press(*amount, "enter", *"damaged", "enter")
    await wait_until(pilot, lambda: screen_name(pilot.app) == "ManagerPinModal", what="pin modal")
    await pilot.press(*"9999", "enter")
    await wait_until(pilot, lambda: screen_name(pilot.app) == "SaleScreen", what="back on the sale")


def refunds(journal_engine) -> list[Refund]:
    with session_scope(journal_engine) as session:
        return list(session.exec(select(Refund).order_by(Refund.id)).all())


def result_line(app) -> str:
    return str(app.screen.query_one("#sale-result").render().plain)


async def test_second_refund_within_a_minute_says_when_and_settles_by_itself(settings, journal_engine, stack, client):
    code = await stack.auth_code("wechat")
    app = app_for(settings, journal_engine, client)
    async with app.run_test(size=SIZE) as pilot:
        await login(pilot)
        await type_amount(pilot, "20")
        await scan_payment(pilot, code)
        await wait_until(pilot, lambda: screen_name(app) == "ResultScreen", what="PAID")
        await open_last_sale(pilot)
        await refund(pilot, "5")
        await wait_until(pilot, lambda: "REFUNDED ¥5.00" in screen_text(app) or "on its way" in screen_text(app))
        await refund(pilot, "3")
        await wait_until(pilot, lambda: "per minute" in result_line(app), timeout=20, what="the wait said")
        line = result_line(app)
        said = r"WeChat Pay allows one refund per order per minute — sent automatically at \d\d:\d\d:\d\d"
        assert re.search(said, line)
        assert "not known" not in line
        # Nothing pressed from here: the engine sends it at that time, the till follows it to its end.
        await wait_until(
            pilot, lambda: "REFUNDED ¥3.00" in result_line(app) or "on its way" in result_line(app), timeout=120
        )
        await wait_until(pilot, lambda: refunds(journal_engine)[-1].state == RefundState.SUCCESS, timeout=30)
    first, second = refunds(journal_engine)
    assert (first.amount_fen, second.amount_fen) == (500, 300)
    assert second.state == RefundState.SUCCESS and second.approved_by == "Demo Manager"
