"""Two writers at once (the till and the sync worker): BEGIN IMMEDIATE serialises them, no
"database is locked", no duplicate or skipped sequence number."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from journal_kit import STORE, TERMINAL, wallet_sale
from sqlalchemy import Engine
from sqlmodel import Session, select

from pos_app.domain.ids import parse_trade_no
from pos_app.journal import Sale, mark_sent, open_journal, record_cash_sale, session_scope, unsent_count, verify_chain


def test_concurrent_writers_keep_sequences_gap_free(journal: Engine, journal_path: Path) -> None:
    errors: list[BaseException] = []
    per_thread = 15

    def till(engine: Engine) -> None:
        try:
            for _ in range(per_thread):
                wallet_sale(engine)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    def cash_drawer() -> None:
        # A second Engine (its own connection pool), as a second process would have.
        other = open_journal(journal_path)
        try:
            for _ in range(per_thread):
                with session_scope(other) as session:
                    record_cash_sale(
                        session,
                        terminal_id=TERMINAL,
                        store_id=STORE,
                        cashier="Bob",
                        subject="c",
                        amount_fen=100,
                        at=datetime.now(UTC),
                    )
                with session_scope(other) as session:
                    mark_sent(session, 10**9)
        except BaseException as exc:
            errors.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=till, args=(journal,)) for _ in range(2)] + [
        threading.Thread(target=cash_drawer)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Session(journal) as session:
        numbers = [sale.out_trade_no for sale in session.exec(select(Sale))]
        assert sorted(parse_trade_no(n).seq for n in numbers) == list(range(1, 3 * per_thread + 1))
        assert unsent_count(session) <= 3 * per_thread
    result = verify_chain(journal)
    assert result.ok and result.events == 3 * per_thread
