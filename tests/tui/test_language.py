"""The till in Chinese and in English at 80x24: every screen a cashier or manager opens shows its words
in the chosen language, whole (a double-width text is neither cut nor pushed off the screen). The engine
is down and the clock fixed, as in the snapshots: cash sales, history, receipts, the dashboard, the
shift count and the X report need no network."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.cells import cell_len
from sqlalchemy import Engine

from pos_app import i18n
from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.journal import add_staff, open_journal, session_scope
from pos_app.tui.app import PosApp, make_app
from tests.tui.support import wait_until

NOW = datetime(2026, 11, 22, 6, 30, 0, tzinfo=UTC)
SIZE = (80, 24)


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    i18n.set_language("en")


@pytest.fixture
def journal(demo_settings: Settings) -> Iterator[Engine]:
    engine = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    with session_scope(engine) as session:
        add_staff(session, "Demo Cashier", "1234", "cashier", terminal_id="T001", at=NOW)
        add_staff(session, "Demo Manager", "9999", "manager", terminal_id="T001", at=NOW)
    yield engine
    engine.dispose()


def till(settings: Settings, journal: Engine, language: str) -> PosApp:
    settings.terminal.language = language  # type: ignore[assignment]
    # Port 9 (discard) on loopback: nothing listens, the engine is simply down.
    client = EngineClient("http://127.0.0.1:9", "T001", b"k" * 32)
    return make_app(settings, engine_client=client, journal_engine=journal, clock=lambda: NOW, health_interval_s=60)


def screen_lines(app: Any) -> list[str]:
    """The 80x24 screen as the terminal shows it, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def shows(pilot: Any, *texts: str) -> list[str]:
    """Wait until every text is on screen, whole on one line; the lines (each at most 80 cells)."""

    def all_shown() -> bool:
        screen = "\n".join(screen_lines(pilot.app))
        return all(text in screen for text in texts)

    await wait_until(pilot, all_shown, what=f"{texts} on screen")
    lines = screen_lines(pilot.app)
    assert len(lines) == SIZE[1]
    assert all(cell_len(line) <= SIZE[0] for line in lines)
    return lines


async def sign_in(pilot: Any) -> None:
    await pilot.press(*"1234", "enter")
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "CheckoutScreen", what="checkout")


async def cash_sale(pilot: Any) -> None:
    await pilot.press("3", "7", "full_stop", "5", "c")
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "CashScreen", what="cash screen")
    await pilot.press("5", "0")


async def test_every_screen_in_chinese(demo_settings: Settings, journal: Engine) -> None:
    app = till(demo_settings, journal, "zh_CN")
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await shows(pilot, "金额（¥）——输入数字", "商品（i 添加，d 删除最后一项）", "收银员：Demo Cashier", "合计 —")
        await pilot.press("i", *"Tea", "enter", "3", "enter", *"1.234", "enter")
        await shows(pilot, "添加商品", "最多两位小数（分）——例如 12.30。", "Enter 下一项/添加 · Esc 取消")
        await pilot.press("escape")
        await pilot.press("1", "w")
        await shows(pilot, "无法连接支付引擎——恢复前只能收现金。")
        await pilot.press("escape")

        await cash_sale(pilot)
        await shows(pilot, "应收", "实收现金（¥）", "找零 ¥12.50")
        await pilot.press("enter")
        await shows(pilot, "已支付", "找零 ¥12.50", "按 Enter 接待下一位顾客", "支付方式", "谢谢惠顾！")

        await pilot.press("h")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "HistoryScreen", what="history")
        await shows(pilot, "时间", "金额", "渠道", "状态", "收银员", "订单号", "¥37.50", "现金", "已支付")
        await pilot.press("enter")
        await shows(pilot, "收银员 Demo Cashier", "2026年11月22日", "门店消费", "序号", "事件", "详情")
        await pilot.press("p")
        await shows(pilot, "订单号", "实收", "找零", "谢谢惠顾！")
        await pilot.press("escape", "escape", "escape")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "CheckoutScreen", what="checkout")

        await pilot.press("f3")
        await shows(pilot, "请清点钱箱中的备用金。", "已清点：¥0.00", "¥100", "5角")
        await pilot.press("escape")

        await pilot.press("f2")
        await shows(pilot, "店长 PIN——", "Enter 批准 · Esc 取消")
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen", what="dashboard")
        await shows(pilot, "星期日 2026-11-22 · 营业中", "渠道", "笔数", "退款", "净额", "现金", "合计", "本周 ¥37.50")
        await pilot.press("x")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "ReportScreen", what="X report")
        await shows(pilot, "X 报表 · 2026年11月22日")


async def test_every_screen_in_english(demo_settings: Settings, journal: Engine) -> None:
    app = till(demo_settings, journal, "en")
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await shows(pilot, "Amount (¥) — type digits", "Items (i add, d remove last)", "Cashier: Demo Cashier")
        await cash_sale(pilot)
        await shows(pilot, "To pay", "Cash tendered (¥)", "Change due ¥12.50")
        await pilot.press("enter")
        await shows(pilot, "PAID", "Enter for the next customer", "Paid by", "Thank you!")
        await pilot.press("h")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "HistoryScreen", what="history")
        await shows(pilot, "Time", "Amount", "Channel", "State", "Order", "¥37.50", "Cash")
        await pilot.press("enter")
        await shows(pilot, "Cashier Demo Cashier", "Nov 22, 2026", "In-store purchase", "Seq", "Event")
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "CheckoutScreen", what="checkout")
        await pilot.press("f3")
        await shows(pilot, "Count the opening float in the drawer.", "Counted: ¥0.00")
        await pilot.press("escape", "f2", *"9999", "enter")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "DashboardScreen", what="dashboard")
        await shows(pilot, "Sunday 2026-11-22 · open", "Channel", "Sales", "Net", "Total", "Week ¥37.50")
