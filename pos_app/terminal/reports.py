"""The manager's figures the screens show: a day's totals, the week, what needs attention, and the
X report (mid-shift) and Z report (day close)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pos_app import journal
from pos_app.journal.days import get_z_report
from pos_app.journal.reports import (
    DayTotals,
    close_day,
    daily_totals,
    net_by_day,
    open_refunds,
    unsettled_payments,
    x_report,
    z_content,
)
from pos_app.journal.shifts import ShiftCloseResult, staff_named, unsigned_closes
from pos_app.terminal.core import TillCore


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


class Reports(TillCore):
    def today(self) -> date:
        return self.clock().astimezone().date()

    def day_view(self, day: date) -> DayView:
        terminal = self.terminal_id
        with journal.session_scope(self.journal) as session:
            z = get_z_report(session, terminal, day)
            return DayView(
                day=day,
                totals=daily_totals(session, day, terminal_id=terminal),
                week=net_by_day(session, day - timedelta(days=6), day, terminal_id=terminal),
                unsettled_payments=unsettled_payments(session, day, terminal_id=terminal),
                open_refunds=open_refunds(session, terminal_id=terminal),
                unsigned_closes=unsigned_closes(session, terminal),
                z_number=None if z is None else z.number,
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
