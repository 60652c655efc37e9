"""The engine ledger (DESIGN.md §3): SQLModel tables, Alembic migrations, queries.

``open_ledger(database_url)`` gives a migrated SQLAlchemy engine for SQLite (default) or PostgreSQL.
"""

from pos_app.engine.store.db import make_engine, migrate, open_ledger
from pos_app.engine.store.models import Attempt, InboxNotification, Payment, Refund, StatusEvent

__all__ = [
    "Attempt",
    "InboxNotification",
    "Payment",
    "Refund",
    "StatusEvent",
    "make_engine",
    "migrate",
    "open_ledger",
]
