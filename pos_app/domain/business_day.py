"""Which business day a sale belongs to once days can be closed early by a Z report.

A business day is named by its local calendar date. When a day has been closed (Z report), anything
that happens afterwards belongs to the next day that is still open — usually tomorrow's date, even
if the clock still shows today. A counter of days would say the same thing, but the date is what the
Z reports, the dashboard, ``pos report --date``, the exports and the engine's daily report already
key on; keeping it means none of them needs a second name for a day. A store that closes early
simply starts tomorrow's business early.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta


def open_business_day(calendar_day: date, closed: Collection[date]) -> date:
    """The first day on or after ``calendar_day`` that is not in ``closed``."""
    day = calendar_day
    while day in closed:
        day += timedelta(days=1)
    return day
