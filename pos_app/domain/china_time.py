"""China Standard Time (UTC+8, no daylight saving): the zone of every gateway timestamp and bill day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")


def in_china(at: datetime) -> datetime:
    """The same instant in China time; a naive time is taken to be China time already."""
    return at.astimezone(CHINA_TZ) if at.tzinfo else at.replace(tzinfo=CHINA_TZ)


def china_day(at: datetime) -> date:
    """The China calendar day of an instant: the gateways' business and bill day."""
    return in_china(at).date()
