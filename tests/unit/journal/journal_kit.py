"""Helpers and fixtures for the journal tests: a real SQLite journal file per test."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import (
    Sale,
    new_out_trade_no,
    open_journal,
    record_attempt_state,
    record_cash_sale,
    session_scope,
    start_sale,
)

TERMINAL, STORE = "T001", "S00001"
AT = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def beijing_machine() -> Iterator[None]:
    """The machine's local zone is Beijing (UTC+8) for the test."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


@pytest.fixture
def journal(journal_path: Path) -> Iterator[Engine]:
    engine = open_journal(journal_path)
    yield engine
    engine.dispose()


def wallet_sale(
    engine: Engine,
    amount_fen: int = 1230,
    *,
    channel: Channel = Channel.WECHAT,
    mode: PaymentMode = PaymentMode.MICROPAY,
    cashier: str = "Alice",
    at: datetime = AT,
) -> Sale:
    """Start a wallet sale in its own transaction (as the till does before calling the engine)."""
    with session_scope(engine) as session:
        number = new_out_trade_no(session, store_id=STORE, terminal_id=TERMINAL, at=at)
        return start_sale(
            session,
            terminal_id=TERMINAL,
            store_id=STORE,
            cashier=cashier,
            out_trade_no=number,
            channel=channel,
            mode=mode,
            subject="Coffee",
            amount_fen=amount_fen,
            at=at,
        )


def cash_sale(engine: Engine, amount_fen: int = 500, at: datetime = AT, **extra: object) -> Sale:
    with session_scope(engine) as session:
        return record_cash_sale(
            session,
            terminal_id=TERMINAL,
            store_id=STORE,
            cashier="Bob",
            subject="Cash sale",
            at=at,
            amount_fen=amount_fen,
            **extra,  # type: ignore[arg-type]
        )


def settle(engine: Engine, number: str, *states: PaymentState, transaction_id: str | None = None) -> list[bool]:
    with session_scope(engine) as session:
        return [
            record_attempt_state(session, number, state, cashier="Alice", transaction_id=transaction_id)
            for state in states
        ]
