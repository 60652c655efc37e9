"""The manager's figures the screens show: a day's totals, the week, what needs attention (open
alerts included), whether the day is closed and which day is selling now, and the X report
(mid-shift) and Z report (day close)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pos_app import journal
from pos_app.domain.day_figures import DayTotals
from pos_app.domain.shift_close import ShiftCloseResult
from pos_app.journal.days import as_day, day_status, get_z_report
from pos_app.journal.figures import daily_totals, day_has_sales, net_by_day, open_refunds, unsettled_payments
from pos_app.journal.reports import close_day, closed_day_notes, x_report
from pos_app.journal.shifts import staff_named, unsigned_closes
from pos_app.journal.z_store import z_content
from pos_app.terminal.alerts import Alert, Alerts


@dataclass(frozen=True, slots=True)
class DayView:
    """Everything the manager dashboard shows about one business day of this terminal."""

    day: date
    totals: DayTotals
    #: Business day (ISO) → (sales, fen) for the seven days up to ``day``.
    week: dict[str, tuple[int, int]]
    unsettled_payments: list[dict[str, Any]]
    open_refunds: list[dict[str, Any]]
    unsigned_closes: list[ShiftCloseResult]
    #: The day's Z report number, None while the day is open.
    z_number: int | None
    #: The business day a sale made now is booked to (the day after a closed one).
    open_day: date
    #: Payments of this closed day that changed state after its Z (not in its figures).
    late_settlements: list[dict[str, Any]]
    #: Money surprises no cashier has acknowledged yet (any day).
    alerts: list[Alert]
    #: The Z that closed the day before ``day`` when ``day`` is the one selling after it.
    previous_z: tuple[date, int] | None = None


class Reports(Alerts):
    def today(self) -> date:
        return self.clock().astimezone().date()

    def current_day(self) -> date:
        """The day the dashboard opens on: today; after today's Z, the next business day once a sale
        has been booked to it, else today (closed, with its Z's figures)."""
        today = self.today()
        with journal.session_scope(self.journal) as session:
            status = day_status(session, self.terminal_id, today, at=self.clock())
            if not status.closed:
                return today
            open_day = as_day(status.open_day)
            return open_day if day_has_sales(session, open_day, terminal_id=self.terminal_id) else today

    def day_view(self, day: date) -> DayView:
        terminal = self.terminal_id
        alerts = self.open_alerts()
        with journal.session_scope(self.journal) as session:
            status = day_status(session, terminal, day, at=self.clock())
            before = get_z_report(session, terminal, day - timedelta(days=1))
            return DayView(
                day=day,
                totals=daily_totals(session, day, terminal_id=terminal),
                week=net_by_day(session, day - timedelta(days=6), day, terminal_id=terminal),
                unsettled_payments=unsettled_payments(session, day, terminal_id=terminal),
                open_refunds=open_refunds(session, terminal_id=terminal),
                unsigned_closes=unsigned_closes(session, terminal),
                z_number=status.z_number,
                open_day=as_day(status.open_day),
                late_settlements=closed_day_notes(session, day, terminal_id=terminal).get("late_settlements", []),
                alerts=alerts,
                previous_z=None if before is None or status.closed else (as_day(before.business_day), before.number),
            )

    def x_report(self, day: date, manager: str) -> dict[str, Any]:
        """The X report of ``day`` so far (nothing is written; the day stays open)."""
        with journal.session_scope(self.journal) as session:
            return x_report(
                session, day, terminal_id=self.terminal_id, by=staff_named(session, manager), at=self.clock()
            )

    def z_report(self, day: date) -> dict[str, Any] | None:
        """The stored Z report of ``day``, None while the day is open."""
        with journal.session_scope(self.journal) as session:
            stored = get_z_report(session, self.terminal_id, day)
            return None if stored is None else z_content(stored)

    def close_day(self, day: date, manager: str) -> dict[str, Any]:
        """Close ``day`` with its Z report (refused while anything of the day is unsettled)."""
        with journal.session_scope(self.journal) as session:
            report = close_day(
                session, day, terminal_id=self.terminal_id, by=staff_named(session, manager), at=self.clock()
            )
            content = z_content(report)
        self._written()
        return content
