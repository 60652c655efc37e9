"""Business days on the journal: which day is open for new business, which days are closed (Z), and
the span of time each day covers.

The rule itself is :func:`pos_app.domain.business_day.open_business_day`: after a Z report the next
sale, refund or shift belongs to the next day still open. So a closed day's figures never change,
and what happens after its close is counted on the day it was booked to, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, select

from pos_app.domain.business_day import open_business_day as first_open_day
from pos_app.journal.clock import aware, business_day_of
from pos_app.journal.models import ZReport


def as_day(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


def get_z_report(session: Session, terminal_id: str, day: date | str) -> ZReport | None:
    """The Z report that closed ``day`` on this terminal, if it is closed."""
    statement = select(ZReport).where(
        ZReport.terminal_id == terminal_id, ZReport.business_day == as_day(day).isoformat()
    )
    return session.exec(statement).first()


def open_business_day(session: Session, terminal_id: str, at: datetime) -> str:
    """The business day (``YYYY-MM-DD``) that a sale, refund or void made at ``at`` belongs to: the
    store's local date, or the next day still open if that one has been closed by a Z report."""
    calendar_day = date.fromisoformat(business_day_of(at))
    statement = select(ZReport.business_day).where(
        ZReport.terminal_id == terminal_id, ZReport.business_day >= calendar_day.isoformat()
    )
    closed = {date.fromisoformat(day) for day in session.exec(statement).all()}
    return first_open_day(calendar_day, closed).isoformat()


@dataclass(frozen=True, slots=True)
class DayStatus:
    """Whether a business day is still open on a terminal, and the Z report that closed it if not."""

    business_day: str
    #: The day a sale made now would be booked to (equal to ``business_day`` when asked about today).
    open_day: str
    z_number: int | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None

    @property
    def closed(self) -> bool:
        return self.z_number is not None


def day_status(session: Session, terminal_id: str, day: date | str, *, at: datetime | None = None) -> DayStatus:
    """Is ``day`` closed on this terminal (and by which Z), and which day is open for business at
    ``at`` (default now): what a dashboard shows as "closed (Z #1) · selling on 2026-11-23"."""
    report = get_z_report(session, terminal_id, day)
    open_day = open_business_day(session, terminal_id, at or datetime.now(UTC))
    if report is None:
        return DayStatus(as_day(day).isoformat(), open_day)
    return DayStatus(report.business_day, open_day, report.number, aware(report.closed_at), report.closed_by)


def calendar_window(day: date, offset_minutes: int) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a local calendar day."""
    start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(minutes=offset_minutes)
    return start, start + timedelta(days=1)


def business_window(
    session: Session, day: date, offset_minutes: int, *, terminal_id: str | None
) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of the business day ``day``: its calendar hours, begun early
    when the day before was closed before midnight (what came after that close was booked here).

    Refunds and shifts are found by their time in this window; sales carry their business day.
    Without a terminal, the calendar hours (a day close is per terminal).
    """
    start, end = calendar_window(day, offset_minutes)
    if terminal_id is None:
        return start, end
    # The open day only moves forward, so this day begins at the first instant when every day from
    # that instant's calendar date up to the day before was closed: the latest of those Zs.
    latest_close: datetime | None = None
    earlier = day - timedelta(days=1)
    while (report := get_z_report(session, terminal_id, earlier)) is not None:
        closed_at = aware(report.closed_at)
        latest_close = closed_at if latest_close is None else max(latest_close, closed_at)
        if latest_close >= start:
            break  # closed after this day's midnight: the day starts at midnight
        if latest_close >= calendar_window(earlier, offset_minutes)[0]:
            return latest_close, end
        earlier -= timedelta(days=1)
    return start, end


def closed_days(session: Session, terminal_id: str | None, first: date, last: date) -> dict[str, list[ZReport]]:
    """The Z reports of the days in [first, last], by day (several when no terminal is given)."""
    statement = select(ZReport).where(
        ZReport.business_day >= first.isoformat(), ZReport.business_day <= last.isoformat()
    )
    if terminal_id is not None:
        statement = statement.where(ZReport.terminal_id == terminal_id)
    result: dict[str, list[ZReport]] = {}
    for report in session.exec(statement.order_by(col(ZReport.terminal_id))).all():
        result.setdefault(report.business_day, []).append(report)
    return result
