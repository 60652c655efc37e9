"""Manager dashboard, X/Z report screens, shift open/close and receipt screens, driven with Pilot on
the real app (make_app) over a real journal file, with a fixed clock and the engine down; plus
snapshots (80x24; update only after looking: ``pytest tests/tui/test_dashboard.py --snapshot-update``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from textual.widgets import DataTable, Sparkline, Static

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import (
    add_staff,
    open_journal,
    record_attempt_state,
    record_cash_sale,
    record_refund,
    session_scope,
    start_sale,
)
from pos_app.journal.days import get_z_report
from pos_app.journal.models import ShiftClose
from pos_app.journal.z_store import z_content
from pos_app.tui.app import PosApp, make_app
from pos_app.tui.screens.dashboard import DashboardScreen, bar, hour_chart
from pos_app.tui.screens.report import ReportScreen
from pos_app.tui.screens.report_receipt import ReceiptScreen
from pos_app.tui.screens.shift import ShiftScreen
from tests.tui.support import screen_text, settle_picture, wait_until

NOW = datetime(2026, 11, 22, 15, 30, 0, tzinfo=UTC)
SIZE = (80, 24)
TERMINAL, STORE = "T001", "S00001"


@pytest.fixture(autouse=True)
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture
def ops_journal(demo_settings: Settings) -> Iterator[Engine]:
    """Staff, and a day of trading: cash, WeChat and Alipay sales over several hours, a refund, one
    payment still unknown; two sales the day before (for the week sparkline)."""
    engine = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    with session_scope(engine) as session:
        add_staff(session, "Demo Cashier", "1234", "cashier", terminal_id=TERMINAL, at=NOW)
        add_staff(session, "Demo Manager", "9999", "manager", terminal_id=TERMINAL, at=NOW)
    trades = [
        (9, Channel.CASH, 1500),
        (9, Channel.WECHAT, 3200),
        (10, Channel.ALIPAY, 880),
        (11, Channel.WECHAT, 12800),
        (12, Channel.CASH, 450),
        (14, Channel.ALIPAY, 6600),
    ]
    with session_scope(engine) as session:
        for index, (hour, channel, amount) in enumerate(trades):
            at = NOW.replace(hour=hour, minute=5 + index)
            if channel == Channel.CASH:
                record_cash_sale(
                    session, terminal_id=TERMINAL, store_id=STORE, cashier="Demo Cashier", subject="Goods", at=at,
                    amount_fen=amount, out_trade_no=f"P{index:04d}", tendered_fen=amount,
                )  # fmt: skip
                continue
            start_sale(
                session, terminal_id=TERMINAL, store_id=STORE, cashier="Demo Cashier", out_trade_no=f"P{index:04d}",
                channel=channel, mode=PaymentMode.NATIVE, subject="Goods", at=at, amount_fen=amount,
            )  # fmt: skip
            record_attempt_state(
                session, f"P{index:04d}", PaymentState.PAID, cashier="Demo Cashier", transaction_id=f"42{index}", at=at
            )
        record_refund(
            session, out_trade_no="P0000", amount_fen=500, cashier="Demo Cashier", approved_by="Demo Manager",
            at=NOW.replace(hour=13), state=RefundState.SUCCESS,
        )  # fmt: skip
        for index, hour in enumerate((10, 16)):
            record_cash_sale(
                session, terminal_id=TERMINAL, store_id=STORE, cashier="Demo Cashier", subject="Goods",
                at=NOW.replace(hour=hour) - timedelta(days=1), amount_fen=2000 * (index + 1),
                out_trade_no=f"PY{index:03d}",
            )  # fmt: skip
    yield engine
    engine.dispose()


def _unknown_payment(engine: Engine) -> None:
    with session_scope(engine) as session:
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Demo Cashier", out_trade_no="PUNKNOWN",
            channel=Channel.WECHAT, mode=PaymentMode.MICROPAY, subject="Goods", at=NOW, amount_fen=999,
        )  # fmt: skip
        record_attempt_state(session, "PUNKNOWN", PaymentState.UNKNOWN, cashier="Demo Cashier", at=NOW)


@pytest.fixture
def app(demo_settings: Settings, ops_journal: Engine) -> PosApp:
    client = EngineClient("http://127.0.0.1:9", TERMINAL, b"k" * 32)  # nothing listens: the engine is down
    demo_settings.terminal.language = "en"  # the snapshots are English whatever the machine's locale
    return make_app(
        demo_settings, engine_client=client, journal_engine=ops_journal, clock=fixed_clock, health_interval_s=60
    )


async def signed_in(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*"1234", "enter")
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ != "LoginScreen", what="signed in")
    await settle_picture(pilot)


def working(screen: object) -> bool:
    """A worker of this screen (a journal read or write off the event loop) has not finished."""
    return any(worker.node is screen and not worker.is_finished for worker in screen.app.workers)  # type: ignore[attr-defined]


def day_shown(app: PosApp) -> bool:
    """The dashboard is up and shows the figures of its day (they are read in a worker)."""
    screen = app.screen
    return isinstance(screen, DashboardScreen) and screen.shown == screen.day and not working(screen)


async def dashboard(pilot) -> None:  # type: ignore[no-untyped-def]
    await signed_in(pilot)
    await pilot.press("f2")
    await pilot.pause()
    await pilot.press(*"9999", "enter")
    await wait_until(pilot, lambda: day_shown(pilot.app), what="dashboard")
    # On a loaded machine the tables may be drawn before their columns have grown to the rows the
    # worker added: the picture is compared once every column is as wide as its widest cell.
    await wait_until(pilot, lambda: columns_fit(pilot.app), what="dashboard columns sized")
    await settle_picture(pilot)


def columns_fit(app: PosApp) -> bool:
    for table in app.screen.query(DataTable):
        for index, column in enumerate(table.ordered_columns):
            cells = [str(table.get_row_at(row)[index]) for row in range(table.row_count)]
            if column.content_width < max([len(str(column.label)), *map(len, cells)]):
                return False
    return True


def _rows(table: DataTable) -> list[list[str]]:  # type: ignore[type-arg]
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def test_bar_and_hour_chart() -> None:
    assert bar(0, 100, 10) == "" and bar(100, 100, 10) == "█" * 10 and bar(55, 100, 10) == "█████▌"
    chart = hour_chart({"09": (2, 4700), "11": (1, 12800)}, width=8)
    assert chart[0].startswith("09 ███ ") and chart[1].startswith("10 ") and "(0)" in chart[1]
    assert chart[2].startswith("11 ████████") and "¥128.00 (1)" in chart[2]


async def test_dashboard_figures_days_and_reports(app: PosApp, ops_journal: Engine) -> None:
    _unknown_payment(ops_journal)
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("f2")
        await pilot.pause()
        await pilot.press(*"1234", "enter")  # a cashier's PIN does not open it
        await wait_until(pilot, lambda: "Wrong PIN" in screen_text(app), what="refusal")
        assert not isinstance(app.screen, DashboardScreen)
        await pilot.press("escape")
        await pilot.pause()
        await dashboard(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        channels = _rows(screen.query_one("#dash-channels", DataTable))
        assert channels == [
            ["WeChat Pay", "2", "¥160.00", "¥0.00", "¥160.00"],
            ["Alipay", "2", "¥74.80", "¥0.00", "¥74.80"],
            ["Cash", "2", "¥19.50", "¥5.00", "¥14.50"],
            ["Total", "6", "¥254.30", "¥5.00", "¥249.30"],
        ]
        assert _rows(screen.query_one("#dash-cashiers", DataTable)) == [["Demo Cashier", "6", "¥249.30"]]
        hours = str(screen.query_one("#dash-hours", Static).render())
        assert hours.splitlines()[0].startswith("09 ") and "¥47.00 (2)" in hours and "13 " in hours
        week = screen.query_one("#dash-week", Sparkline).data
        assert list(week or [])[-2:] == [6000, 25430]
        attention = str(screen.query_one("#dash-attention", Static).render())
        assert "PUNKNOWN" in attention and "UNKNOWN" in attention
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: day_shown(app) and screen.day < NOW.date(), what="the day before")
        assert _rows(screen.query_one("#dash-channels", DataTable))[-1] == ["Total", "2", "¥60.00", "¥0.00", "¥60.00"]
        await pilot.press("right_square_bracket", "right_square_bracket")  # not past today
        await wait_until(pilot, lambda: day_shown(app), what="today again")
        assert screen.day == NOW.date()
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ReportScreen), what="X report")
        text = str(app.screen.query_one("#report-text", Static).render())
        assert "X report" in text and "¥249.30" in text
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("z")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ManagerPinModal", what="PIN for the Z report")
        await pilot.press(*"9999", "enter")  # refused: a payment is unsettled
        await wait_until(pilot, lambda: any(n.title == "Day not closed" for n in app._notifications), what="refusal")
        await wait_until(pilot, lambda: not working(screen), what="the refused close to end")
        assert isinstance(app.screen, DashboardScreen)
        with session_scope(ops_journal) as session:
            assert get_z_report(session, TERMINAL, NOW.date()) is None
            record_attempt_state(session, "PUNKNOWN", PaymentState.CLOSED, cashier="Demo Cashier", at=NOW)
        await pilot.press("z")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ManagerPinModal", what="PIN for the Z report")
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReportScreen), what="Z report")
        assert "Z report #1" in str(app.screen.query_one("#report-text", Static).render())
    with session_scope(ops_journal) as session:
        stored = get_z_report(session, TERMINAL, NOW.date())
        assert stored is not None and stored.closed_by == "Demo Manager"
        assert z_content(stored)["total"]["net_fen"] == 24930


async def test_shift_open_blind_close_and_sign_off(app: PosApp, ops_journal: Engine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ShiftScreen) and app.screen.ready.is_set())
        assert isinstance(app.screen, ShiftScreen) and not app.screen.closing
        await pilot.press(*"2", "enter", *"0", "enter", *"5")  # 2 x ¥100, 0 x ¥50, 5 x ¥20
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, ShiftScreen), what="shift opened")
        with session_scope(ops_journal) as session:
            from pos_app.journal import current_shift

            shift = current_shift(session, TERMINAL)
            assert shift is not None and shift.opening_float_fen == 30000
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ShiftScreen) and app.screen.ready.is_set())
        screen = app.screen
        assert isinstance(screen, ShiftScreen) and screen.closing
        assert "expected" not in str(screen.query_one("#shift-result", Static).render()).lower()
        await pilot.press(*"3", "ctrl+s")  # 3 x ¥100: counted ¥300, expected ¥300
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ManagerPinModal", what="PIN for the sign-off")
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: "Signed off" in str(screen.query_one("#shift-result", Static).render()))
        result = str(screen.query_one("#shift-result", Static).render())
        assert "Cash" in result and "¥300.00" in result and "Signed off by Demo Manager" in result
    with session_scope(ops_journal) as session:
        close = session.get(ShiftClose, 1)
        assert close is not None and close.cash_counted_fen == 30000 and close.signed_off_by == "Demo Manager"


async def test_receipt_screen_reprint(app: PosApp, ops_journal: Engine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await signed_in(pilot)
        app.push_screen(ReceiptScreen("P0001"))
        await pilot.pause()
        await wait_until(pilot, lambda: "TOTAL" in str(app.screen.query_one("#receipt-text", Static).render()))
        text = str(app.screen.query_one("#receipt-text", Static).render())
        assert "¥32.00" in text and "REPRINT" not in text
        await pilot.press("p")
        await wait_until(pilot, lambda: "REPRINT" in str(app.screen.query_one("#receipt-text", Static).render()))
        assert "*** REPRINT ***" in str(app.screen.query_one("#receipt-text", Static).render())
    from pos_app.journal import sale_events

    with session_scope(ops_journal) as session:
        assert [e.kind for e in sale_events(session, "P0001")][-1] == "receipt.reprint"


def test_dashboard_snapshot(snap_compare, app: PosApp) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=SIZE, run_before=dashboard)


def test_x_report_snapshot(snap_compare, app: PosApp) -> None:  # type: ignore[no-untyped-def]
    async def x_report(pilot) -> None:  # type: ignore[no-untyped-def]
        await dashboard(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReportScreen), what="X report")
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=x_report)


def test_shift_close_snapshot(snap_compare, app: PosApp, ops_journal: Engine) -> None:  # type: ignore[no-untyped-def]
    async def blind_close(pilot) -> None:  # type: ignore[no-untyped-def]
        await signed_in(pilot)
        await pilot.press("f3", *"1", "ctrl+s")  # open with ¥100
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, ShiftScreen), what="shift opened")
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ShiftScreen) and pilot.app.screen.ready.is_set())
        await settle_picture(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=blind_close)
