"""The till's clock: time-zone-aware instants and the store's local business day."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


def aware(at: datetime) -> datetime:
    """A time-zone-aware time: naive datetimes are taken as the machine's local wall time."""
    return at if at.utcoffset() is not None else at.astimezone()


def business_day_of(at: datetime) -> str:
    """The store's local date of an instant (the machine's time zone: the till stands in the store).

    Callers may pass UTC times; the day must still be the local one, or a sale at 07:30 in Beijing
    would land on the previous day.
    """
    return aware(at).astimezone().strftime("%Y-%m-%d")
