"""Whose ledger rows a request may read or act on: the authenticated caller, never the query string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How wide a report a terminal asks for: its own figures, or its whole store's.
Breadth = Literal["terminal", "store"]


@dataclass(frozen=True, slots=True)
class ReadScope:
    """Rows a read may return: always one store; one terminal of it, or the whole store when ``None``.

    There is no scope without a store: a query built from a ``ReadScope`` cannot reach another store.
    """

    store_id: str
    terminal_id: str | None


@dataclass(frozen=True, slots=True)
class Caller:
    """The terminal a request comes from, as proved by its signature (set once, by the edge guard)."""

    terminal_id: str
    store_id: str

    def scope(self, breadth: Breadth = "terminal") -> ReadScope:
        """What this caller may read: its own rows, or (``store``) those of its own store."""
        return ReadScope(store_id=self.store_id, terminal_id=self.terminal_id if breadth == "terminal" else None)
