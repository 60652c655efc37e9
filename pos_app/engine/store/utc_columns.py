"""How the ledger's own tables hold time: aware UTC in, aware UTC out (SQLite keeps it naive)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Datetimes are stored and read as aware UTC; a naive one (SQLite, raw SQL) is taken as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def stored(value: datetime) -> datetime:
    """The aware-UTC form every datetime column of these tables holds."""
    return aware(value).astimezone(UTC)


def sql_time(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy's SQLite DateTime stores it (for the raw nonce statements)."""
    return stored(value).strftime("%Y-%m-%d %H:%M:%S.%f")
