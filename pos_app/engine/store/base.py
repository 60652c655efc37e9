"""The engine ledger's own SQLModel base and metadata.

The ledger and the terminal journal both have a ``refunds`` table; each keeps its tables on its own
metadata so both can be loaded in one process (tests, the embedded default) without clashing.
"""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class LedgerTable(SQLModel, registry=registry()):
    """Base of every engine ledger table."""
