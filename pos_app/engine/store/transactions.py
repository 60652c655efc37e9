"""Ledger work in its own transaction on a worker thread: writes, reads, and compare-and-set retries.

Database work is synchronous SQLAlchemy; running it in a worker thread (``asyncio.to_thread``) keeps
a busy database from blocking the event loop. Every use case goes through :class:`Transactions`, so
each one owns its transaction and none commits inside a repository function.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from pos_app.domain.errors import PosError
from pos_app.engine.store.db import reader

P = ParamSpec("P")
T = TypeVar("T")

#: A compare-and-set transaction that keeps losing races is given up after this many tries.
MUTATE_TRIES = 8


class StaleRow(Exception):
    """Another process changed the row between our read and our compare-and-set: read again."""


def run_in_session(engine: Engine, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(session, ...)`` in one transaction, committed if it returns (on the calling thread)."""
    with Session(engine, expire_on_commit=False) as session:
        result = fn(session, *args, **kwargs)
        session.commit()
        return result


async def _in_thread(engine: Engine, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    def call() -> T:
        return run_in_session(engine, fn, *args, **kwargs)

    return await asyncio.to_thread(call)


class Transactions:
    """Runs ``fn(session, ...)`` in its own committed transaction in a worker thread."""

    def __init__(self, ledger: Engine, *, on_change: Callable[[], None]) -> None:
        self.ledger = ledger
        self._reader = reader(ledger)
        # Called on the event loop after each successful compare-and-set (wakes the event streams).
        self._on_change = on_change

    async def write(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A writing transaction (on SQLite it holds the write lock from its first statement)."""
        return await _in_thread(self.ledger, fn, *args, **kwargs)

    async def read(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read-only transaction: no write lock on SQLite."""
        return await _in_thread(self._reader, fn, *args, **kwargs)

    async def mutate(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read-decide-compare-and-set transaction, run again while ``fn`` raises :class:`StaleRow`."""
        for _ in range(MUTATE_TRIES):
            try:
                result = await self.write(fn, *args, **kwargs)
            except StaleRow:
                continue
            self._on_change()
            return result
        raise PosError("The ledger is too busy — try again.")
