"""The manager dashboard (manager PIN): a day's totals by channel and cashier, a bar chart of sales
per hour, a sparkline of the week, and what needs attention (money-surprise alerts, unsettled payments
and refunds, shift counts waiting for a sign-off, a closed day's late settlements). Any past day with
``[`` / ``]``; X report, Z report (day close).

A closed day stays closed: it shows its Z's figures whatever happens after; once a sale has been
booked to the day after it, the dashboard opens on that day.

Reconciliation status is not shown: the engine's client API exposes no reconciliation results.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Label, Sparkline, Static

from pos_app.domain.day_figures import DayTotals
from pos_app.domain.errors import PosError
from pos_app.domain.money import format_fen
from pos_app.domain.staff import DEMO_CONSOLE_PASSWORD, DEMO_CONSOLE_USER
from pos_app.i18n import N_, _, format_day, format_weekday
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.reports import DayView
from pos_app.terminal.text import channel_name, state_name
from pos_app.tui.modals.pin import ManagerPinModal
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.report import ReportScreen

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: int, largest: int, width: int) -> str:
    """A horizontal bar of block characters, ``value/largest`` of ``width`` cells (eighths included)."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value * width * 8 / largest))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def hour_chart(hours: dict[str, tuple[int, int]], width: int = 36) -> list[str]:
    """One line per hour from the first to the last hour with sales: ``09 ████▍ ¥123.45 (12)``."""
    if not hours:
        return [_("No sales this day.")]
    present = sorted(int(hour) for hour in hours)
    largest = max(amount for _count, amount in hours.values())
    lines = []
    for hour in range(present[0], present[-1] + 1):
        count, amount = hours.get(f"{hour:02d}", (0, 0))
        lines.append(f"{hour:02d} {bar(amount, largest, width):<{width}} {format_fen(amount):>12} ({count})")
    return lines


def day_line(view: DayView) -> str:
    """The day, whether it is open or closed (and by which Z), and its voids: "Sat 22 Nov · open"."""
    if view.z_number is not None:
        status = _("day closed — Z #{number}").format(number=view.z_number)
        if view.open_day > view.day:
            status += " · " + _("selling on {day}").format(day=format_weekday(view.open_day))
    elif view.previous_z is not None:
        status = _("open · {day} closed by Z #{number}").format(
            day=format_weekday(view.previous_z[0]), number=view.previous_z[1]
        )
    else:
        status = _("open")
    line = f"{format_weekday(view.day)} · {status}"
    if view.totals.total.voids_count:
        line += " · " + _("{count} void(s) {amount}").format(
            count=view.totals.total.voids_count, amount=format_fen(view.totals.total.voids_fen)
        )
    return line


def console_line(url: str | None, *, sandbox: bool) -> str:
    """Where the store's figures are in a browser (the embedded default starts the console)."""
    if url is None:
        return ""
    line = _("Every till and the chain in a browser: {url}").format(url=url)
    if sandbox:
        line += " · " + _("demo sign-in {name} / {password}").format(
            name=DEMO_CONSOLE_USER, password=DEMO_CONSOLE_PASSWORD
        )
    return line


class DashboardScreen(TillScreen):
    CSS_PATH = "../styles/ops.tcss"
    HEADING = N_("Manager")
    KEYS = N_("[ ] day · t today · x X report · z Z report (day close) · Esc back")
    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("left_square_bracket", "day(-1)", N_("Previous day")),
        Binding("right_square_bracket", "day(1)", N_("Next day")),
        Binding("t", "today", N_("Today")),
        Binding("x", "x_report", N_("X report")),
        Binding("z", "z_report", N_("Z report")),
    ]

    def __init__(self, manager: str, day: date | None = None) -> None:
        super().__init__()
        self.manager = manager
        #: Set by the first load when no day was asked for (the day selling now, see Reports.current_day).
        self.day: date | None = day
        #: The business day selling now, as the last view drawn said.
        self.open_day: date | None = None
        #: The day whose figures are on screen (None until the first load has drawn them).
        self.shown: date | None = None

    def body(self) -> ComposeResult:
        yield Static("", id="dash-day")
        with Horizontal(id="dash-tables"):
            yield DataTable(id="dash-channels", cursor_type="none", show_cursor=False)
            yield DataTable(id="dash-cashiers", cursor_type="none", show_cursor=False)
        yield Static("", id="dash-hours", markup=False)
        with Horizontal(id="dash-week-row"):
            yield Label("", id="dash-week-label")
            yield Sparkline([], id="dash-week")
        yield Static("", id="dash-attention", markup=False)
        yield Static(console_line(self.app_console_url(), sandbox=self.app_sandbox()), id="dash-console", markup=False)

    def app_console_url(self) -> str | None:
        return getattr(self.app, "console_url", None)

    def app_sandbox(self) -> bool:
        return bool(getattr(self.app, "sandbox", False))

    def on_mount(self) -> None:
        self.query_one("#dash-console", Static).display = self.app_console_url() is not None
        self.query_one("#dash-channels", DataTable).add_columns(
            _("Channel"), _("Sales"), _("Amount"), _("Refunds"), _("Net")
        )
        self.query_one("#dash-cashiers", DataTable).add_columns(_("Cashier"), _("Sales"), _("Net"))
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @work(exclusive=True, group="dashboard", exit_on_error=False)
    async def load(self) -> None:
        """Read the day's figures off the event loop, then draw them (the latest request wins)."""
        if self.day is None:
            self.day = await asyncio.to_thread(self.till.current_day)
        self.show(await asyncio.to_thread(self.till.day_view, self.day))

    def show(self, view: DayView) -> None:
        self.query_one("#dash-day", Static).update(day_line(view))
        self.open_day = view.open_day
        self.fill_tables(view.totals)
        self.query_one("#dash-hours", Static).update("\n".join(hour_chart(view.totals.hours)))
        amounts = [amount for _count, amount in view.week.values()]
        self.query_one("#dash-week-label", Label).update(_("Week {amount}").format(amount=format_fen(sum(amounts))))
        self.query_one("#dash-week", Sparkline).data = amounts
        attention = [f"! {alert.headline()}" for alert in view.alerts]
        attention += [
            "! "
            + _("late: {order} {channel} {amount} {state} after Z #{number} (not in the figures)").format(
                order=row["out_trade_no"],
                channel=channel_name(row["channel"]),
                amount=format_fen(row["amount_fen"]),
                state=state_name(row["state"]),
                number=view.z_number,
            )
            for row in view.late_settlements
        ]
        attention += [
            f"! {p['out_trade_no']} {channel_name(p['channel'])} {format_fen(p['amount_fen'])} {state_name(p['state'])}"
            for p in view.unsettled_payments
        ]
        attention += [
            "! "
            + _("refund {number} {amount} {state}").format(
                number=r["out_refund_no"], amount=format_fen(r["amount_fen"]), state=r["state"]
            )
            for r in view.open_refunds
        ]
        attention += [
            "! "
            + _("shift {shift} counted by {name}: difference {amount}, not signed off").format(
                shift=c.shift_id, name=c.counted_by, amount=format_fen(c.difference_fen)
            )
            for c in view.unsigned_closes
        ]
        self.query_one("#dash-attention", Static).update(
            "\n".join([_("Needs attention:"), *attention]) if attention else _("Nothing needs attention.")
        )
        self.shown = view.day

    def fill_tables(self, totals: DayTotals) -> None:
        channels = self.query_one("#dash-channels", DataTable)
        channels.clear()
        for name, figures in [*((channel_name(n), f) for n, f in totals.channels.items()), (_("Total"), totals.total)]:
            channels.add_row(
                name,
                str(figures.sales_count),
                format_fen(figures.sales_fen),
                format_fen(figures.refunds_fen),
                format_fen(figures.net_fen),
            )
        cashiers = self.query_one("#dash-cashiers", DataTable)
        cashiers.clear()
        for name in sorted(totals.cashiers):
            figures = totals.cashiers[name]
            cashiers.add_row(name, str(figures.sales_count), format_fen(figures.net_fen))

    def action_day(self, step: int) -> None:
        """The day before or after; never past the day selling now (after a Z it may be tomorrow)."""
        if self.day is None or (step > 0 and self.day >= max(self.till.today(), self.open_day or self.day)):
            return
        self.day += timedelta(days=step)
        self.load()

    def action_today(self) -> None:
        self.day = None
        self.load()

    def action_x_report(self) -> None:
        self.x_report()

    def action_z_report(self) -> None:
        self.z_report()

    @work(exclusive=True, group="report", exit_on_error=False)
    async def x_report(self) -> None:
        if self.day is None:
            return
        content = await asyncio.to_thread(self.till.x_report, self.day, self.manager)
        self.app.push_screen(ReportScreen(content))

    @work(exclusive=True, group="report", exit_on_error=False)
    async def z_report(self) -> None:
        """Show the day's Z report, or close the day (a fresh manager PIN) if it is still open."""
        if self.day is None:
            return
        content = await asyncio.to_thread(self.till.z_report, self.day)
        if content is not None:
            self.app.push_screen(ReportScreen(content))
            return
        day = self.day

        def approved(manager: str | None) -> None:
            if manager is not None:
                self.close_day(day, manager)

        self.app.push_screen(
            ManagerPinModal(_("close {day} (Z report)").format(day=format_day(day)), self.till.check_manager), approved
        )

    @work(exclusive=True, group="report", exit_on_error=False)
    async def close_day(self, day: date, manager: str) -> None:
        try:
            closed = await asyncio.to_thread(self.till.close_day, day, manager)
        except PosError as exc:
            self.notify(cashier_text(exc), title=_("Day not closed"), severity="error", timeout=10)
            return
        self.load()
        self.app.push_screen(ReportScreen(closed))

    def action_back(self) -> None:
        self.app.pop_screen()
