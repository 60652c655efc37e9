"""X and Z reports against an independent sum of the journal's event log; Z numbering, refusal and
tamper detection."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from ops_kit import DAY, START, STORE, TERMINAL, add_people, build_day, events, expected_figures
from sqlalchemy import Engine
from sqlmodel import func, select

from pos_app.domain.errors import AuthorisationError
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import (
    Counter,
    JournalEvent,
    record_attempt_state,
    session_scope,
    shifts,
    start_sale,
    verify_chain,
)
from pos_app.journal.days import get_z_report
from pos_app.journal.errors import JournalError
from pos_app.journal.figures import daily_totals, net_by_day
from pos_app.journal.reports import DayClosedError, UnsettledError, close_day, x_report
from pos_app.journal.z_store import z_content

FIGURE_KEYS = ("total", "channels", "cashiers", "hours", "first_receipt", "last_receipt")


def _close_shift(journal: Engine, people: object) -> None:
    from ops_kit import People

    assert isinstance(people, People)
    with session_scope(journal) as session:
        result = shifts.blind_close(
            session, terminal_id=TERMINAL, by=people.ann, counts={10000: 3, 100: 7}, at=START + timedelta(hours=15)
        )
        shifts.sign_off(session, shift_id=result.shift_id, manager=people.max, at=START + timedelta(hours=15))


def test_x_report_matches_the_event_log(journal: Engine) -> None:
    people = add_people(journal)
    build_day(journal, people, sales=150)
    _close_shift(journal, people)
    expected = expected_figures(journal, DAY)
    with session_scope(journal) as session:
        report = x_report(session, DAY, terminal_id=TERMINAL, by=people.ann, at=START, offset_minutes=0)
    for key in FIGURE_KEYS:
        assert report[key] == expected[key], key
    # Every kind of figure actually occurred in this day (the test would be weak otherwise).
    total = report["total"]
    assert total["sales_count"] > 60 and total["refunds_count"] > 3 and total["voids_count"] > 3
    assert all(report["channels"][c]["sales_count"] > 5 for c in ("wechat", "alipay", "cash"))
    assert set(report["cashiers"]) == {"Ann", "Bob"}
    assert len(report["hours"]) >= 6
    # Cash: float + drawer movements, counted by the blind count.
    [shift] = expected["shifts"]
    [reported] = report["cash"]["shifts"]
    assert reported["expected_fen"] == shift["expected_fen"]
    assert reported["counted_fen"] == shift["counted_fen"] == 30700
    assert reported["difference_fen"] == 30700 - shift["expected_fen"]
    assert reported["signed_off_by"] == "Max"
    assert report["cash"]["difference_fen"] == 30700 - shift["expected_fen"]
    # The sum of the channels is the total; the sum of the hours is the sales total.
    assert sum(c["net_fen"] for c in report["channels"].values()) == total["net_fen"]
    assert sum(h["sales_fen"] for h in report["hours"].values()) == total["sales_fen"]


def test_x_report_changes_nothing(journal: Engine) -> None:
    people = add_people(journal)
    build_day(journal, people, sales=20)
    with session_scope(journal) as session:
        before = (
            session.exec(select(func.count()).select_from(JournalEvent)).one(),
            list(session.exec(select(Counter))),
        )
        x_report(session, DAY, terminal_id=TERMINAL, by=people.bob, at=START, offset_minutes=0)
        after = (
            session.exec(select(func.count()).select_from(JournalEvent)).one(),
            list(session.exec(select(Counter))),
        )
    assert before == after


def test_z_report_is_numbered_stored_and_refused_twice(journal: Engine) -> None:
    people = add_people(journal)
    build_day(journal, people, sales=60)
    _close_shift(journal, people)
    expected = expected_figures(journal, DAY)
    with session_scope(journal) as session, pytest.raises(AuthorisationError):
        close_day(session, DAY, terminal_id=TERMINAL, by=people.ann, at=START, offset_minutes=0)
    with session_scope(journal) as session:
        z = close_day(
            session, DAY, terminal_id=TERMINAL, by=people.max, at=START + timedelta(hours=16), offset_minutes=0
        )
    assert z.number == 1
    content = z_content(z)
    assert content["report"] == "Z" and content["number"] == 1 and content["generated_by"] == "Max"
    for key in FIGURE_KEYS:
        assert content[key] == expected[key], key
    last = events(journal)[-1]
    assert last.kind == "day.close"
    assert last.payload["z_report"]["content_hash"] == z.content_hash
    assert last.payload["net_fen"] == expected["total"]["net_fen"]
    with session_scope(journal) as session, pytest.raises(DayClosedError, match="already closed"):
        close_day(session, DAY, terminal_id=TERMINAL, by=people.max, at=START, offset_minutes=0)
    # The next day gets the next number, even with no sales.
    with session_scope(journal) as session:
        second = close_day(session, "2026-11-21", terminal_id=TERMINAL, by=people.max, at=START, offset_minutes=0)
    assert second.number == 2 and z_content(second)["total"]["sales_count"] == 0
    assert verify_chain(journal).ok


def test_z_report_refused_while_a_payment_is_unsettled(journal: Engine) -> None:
    people = add_people(journal)
    with session_scope(journal) as session:
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", out_trade_no="P1UNSETTLED",
            channel=Channel.WECHAT, mode=PaymentMode.MICROPAY, subject="x", at=START, amount_fen=990,
        )  # fmt: skip
        record_attempt_state(session, "P1UNSETTLED", PaymentState.UNKNOWN, cashier="Ann", at=START)
    with session_scope(journal) as session, pytest.raises(UnsettledError, match="no final outcome"):
        close_day(session, DAY, terminal_id=TERMINAL, by=people.max, at=START, offset_minutes=0)
    with session_scope(journal) as session:
        assert get_z_report(session, TERMINAL, DAY) is None
        report = x_report(session, DAY, terminal_id=TERMINAL, by=people.ann, at=START, offset_minutes=0)
    assert [p["out_trade_no"] for p in report["unsettled_payments"]] == ["P1UNSETTLED"]
    with session_scope(journal) as session:
        record_attempt_state(session, "P1UNSETTLED", PaymentState.PAID, cashier="Ann", transaction_id="42x", at=START)
    with session_scope(journal) as session:
        z = close_day(session, DAY, terminal_id=TERMINAL, by=people.max, at=START, offset_minutes=0)
    assert z_content(z)["total"]["sales_fen"] == 990


def _journal_file(journal: Engine) -> Path:
    assert journal.url.database is not None
    return Path(journal.url.database)


@pytest.mark.parametrize("rehash", [False, True])
def test_hand_edited_z_report_is_detected(journal: Engine, rehash: bool) -> None:
    people = add_people(journal)
    build_day(journal, people, sales=15)
    with session_scope(journal) as session:
        close_day(session, DAY, terminal_id=TERMINAL, by=people.max, at=START, offset_minutes=0)
    assert verify_chain(journal).ok
    journal.dispose()
    raw = sqlite3.connect(_journal_file(journal))
    text = raw.execute("SELECT content_json FROM z_reports").fetchone()[0]
    edited = text.replace('"report":"Z"', '"report":"Z","note":"x"', 1)
    assert edited != text
    raw.execute("UPDATE z_reports SET content_json = ?", (edited,))
    if rehash:  # a careful forger recomputes the stored hash too: the event still remembers the old one
        import hashlib

        raw.execute("UPDATE z_reports SET content_hash = ?", (hashlib.sha256(edited.encode()).hexdigest(),))
    raw.commit()
    raw.close()
    result = verify_chain(journal)
    assert not result.ok
    assert "z_report T001-1" in str(result)
    with session_scope(journal) as session:
        stored = get_z_report(session, TERMINAL, DAY)
        assert stored is not None
        if not rehash:
            with pytest.raises(JournalError, match="edited"):
                z_content(stored)


def test_daily_totals_and_week_series(journal: Engine) -> None:
    people = add_people(journal)
    build_day(journal, people, sales=40)
    expected = expected_figures(journal, DAY)
    with session_scope(journal) as session:
        totals = daily_totals(session, DAY, terminal_id=TERMINAL, offset_minutes=0).as_dict()
        week = net_by_day(session, START.date() - timedelta(days=6), START.date())
    assert totals["total"] == expected["total"]
    assert list(week) == [(START.date() - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert week[DAY] == (expected["total"]["sales_count"], expected["total"]["sales_fen"])
    assert all(value == (0, 0) for day, value in week.items() if day != DAY)
