"""The ledger side of a day on a real database (SQLite file, and PostgreSQL under scripts/test):
what is due in which bill, lookups of other days, and settling what a bill proves."""

from __future__ import annotations

import gzip
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from pos_app.domain.china_time import CHINA_TZ, china_day
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.reconcile import match_channel, parse_wechat_bill_bytes
from pos_app.engine.reconcile.day_match import match_archived, match_day
from pos_app.engine.reconcile.errors import BillFormatError
from pos_app.engine.reconcile.ledger_day import LedgerDay, iter_ledger_payments
from pos_app.engine.reconcile.ledger_reads import count_due, load_ledger_refunds, lookup_payments, lookup_terminals
from pos_app.engine.reconcile.settle import apply_settlements
from pos_app.engine.store import Payment, Refund, open_ledger, repo
from tests.contract.engine.conftest import attempts_for
from tests.unit.reconcile.reconcile_kit import wechat_bill, wechat_row

DAY = date(2026, 11, 21)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ).astimezone(UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
        yield engine
        engine.dispose()
        return
    base = os.environ.get("POS_TEST_PG_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("POS_TEST_PG_URL is not set: run the suite with scripts/test")
        pytest.skip("PostgreSQL not started (run scripts/test)")
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"pos_reconcile_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = open_ledger(make_url(base).set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _payment(
    otn: str, state: str, amount: int, created: datetime, paid: datetime | None, channel: str = "wechat"
) -> Payment:
    return Payment(
        out_trade_no=otn, terminal_id="T001", store_id="S00001", channel=channel, mode="micropay",
        amount_fen=amount, subject="Tea", operator="alice", state=state,
        business_day=china_day(created).isoformat(), created_at=created, updated_at=created, paid_at=paid,
    )  # fmt: skip


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all(
            [
                _payment("PDAY0001", "PAID", 1000, _at(DAY, 9), _at(DAY, 9)),
                # Created the evening before, paid just after midnight: due in DAY's bill.
                _payment("PEVE0001", "PAID", 2000, _at(DAY - timedelta(days=1), 23, 59), _at(DAY, 0, 1)),
                # Created late on DAY, paid after midnight: tomorrow's bill, not DAY's.
                _payment("PLATE001", "PAID", 3000, _at(DAY, 23, 59), _at(DAY + timedelta(days=1), 0, 1)),
                _payment("PUNKNOWN", "UNKNOWN", 4000, _at(DAY, 10), None),
                _payment("PCLOSED1", "CLOSED", 500, _at(DAY, 11), None),
                _payment("POLD0001", "PAID", 600, _at(DAY - timedelta(days=5), 11), _at(DAY - timedelta(days=5), 11)),
                _payment("PALIPAY1", "PAID", 700, _at(DAY, 12), _at(DAY, 12), channel="alipay"),
            ]
        )
        session.add(
            Refund(
                out_refund_no="RDAY0001", out_trade_no="PDAY0001", terminal_id="T001", amount_fen=300,
                operator="boss", state="SUCCESS", business_day=DAY.isoformat(), created_at=_at(DAY, 15),
                updated_at=_at(DAY, 15), succeeded_at=_at(DAY, 15),
            )
        )  # fmt: skip
        session.commit()


def test_due_rows_refunds_and_lookups(ledger: Engine) -> None:
    _seed(ledger)
    rows = {r[0]: r for r in iter_ledger_payments(ledger, DAY, Channel.WECHAT)}
    assert set(rows) == {"PDAY0001", "PEVE0001", "PLATE001", "PUNKNOWN", "PCLOSED1"}
    assert {k: r[4] for k, r in rows.items()} == {
        "PDAY0001": 1, "PEVE0001": 1, "PLATE001": 0, "PUNKNOWN": 1, "PCLOSED1": 1,
    }  # fmt: skip
    assert rows["PDAY0001"][1:4] == ("PAID", 1000, "T001")
    refunds = load_ledger_refunds(ledger, DAY, Channel.WECHAT)
    assert [(r.out_refund_no, r.amount_fen, r.state, r.due) for r in refunds] == [("RDAY0001", 300, "SUCCESS", True)]
    assert load_ledger_refunds(ledger, DAY, Channel.ALIPAY) == []
    assert count_due(ledger, DAY, Channel.WECHAT) == 3  # two payments paid that day + one refund
    assert count_due(ledger, DAY - timedelta(days=2), Channel.WECHAT) == 0
    assert lookup_payments(ledger, ["POLD0001", "PNOTHERE"]) == [("POLD0001", "PAID", 600, "T001", 0)]


def test_a_bill_settles_the_unknown_payment_once(ledger: Engine) -> None:
    _seed(ledger)
    bill = parse_wechat_bill_bytes(
        wechat_bill(
            [
                wechat_row("PEVE0001", 2000, at="2026-11-21 00:01:00"),
                wechat_row("PDAY0001", 1000, at="2026-11-21 09:00:00"),
                wechat_row("PUNKNOWN", 4000, at="2026-11-21 10:00:07", txid="4200000001202611217777777777"),
                wechat_row("PDAY0001", 0, out_refund_no="RDAY0001", refund_fen=300, at="2026-11-21 15:00:00"),
                wechat_row("POLD0001", 600, at="2026-11-21 11:00:00"),
            ]
        ).encode()
    )
    match = match_channel(
        bill,
        iter_ledger_payments(ledger, DAY, Channel.WECHAT),
        load_ledger_refunds(ledger, DAY, Channel.WECHAT),
        lookup_payments=lambda numbers: lookup_payments(ledger, numbers),
    )
    assert [(i.kind.value, i.out_trade_no) for i in match.open_items] == []
    assert [(s.out_trade_no, s.target) for s in match.settled] == [("PUNKNOWN", PaymentState.PAID)]
    now = datetime.now(UTC)
    assert apply_settlements(ledger, match.settled, bill_day=DAY, now=now) == ["PUNKNOWN"]
    assert apply_settlements(ledger, match.settled, bill_day=DAY, now=now) == []  # already settled
    with Session(ledger) as session:
        payment = repo.get_payment(session, "PUNKNOWN")
        assert payment is not None and payment.state == "PAID"
        assert payment.transaction_id == "4200000001202611217777777777"
        assert payment.paid_at == _at(DAY, 10) + timedelta(seconds=7)
        assert [a.op for a in attempts_for(session, "PUNKNOWN")] == ["reconcile"]
        events = repo.events_since(session, "T001", 0, 10)
        assert [(e.payment.out_trade_no, e.payment.state) for e in events] == [("PUNKNOWN", PaymentState.PAID)]


def _values(column: object) -> list[object]:
    """A batch column as Python values (SQLite hands Arrow arrays over, PostgreSQL sequences)."""
    return column.to_pylist() if isinstance(column, pa.Array) else list(column)  # type: ignore[call-overload]


def test_ledger_day_splits_the_window_into_paid_pairs_and_full_rows(ledger: Engine) -> None:
    _seed(ledger)
    with LedgerDay(ledger, DAY, Channel.WECHAT) as day:
        with pytest.raises(RuntimeError):
            next(day.others())  # the rest is known only once the bulk was read
        paid = [pair for otns, amounts in day.paid() for pair in zip(_values(otns), _values(amounts), strict=True)]
        others = list(day.others())
    assert sorted(paid) == [("PDAY0001", 1000), ("PEVE0001", 2000)]  # PAID and paid within the day
    everything = {r[0]: tuple(r) for r in iter_ledger_payments(ledger, DAY, Channel.WECHAT)}
    assert {r[0]: tuple(r) for r in others} == {k: r for k, r in everything.items() if k not in dict(paid)}
    assert lookup_terminals(ledger, ["PDAY0001", "PNOTHERE"]) == {"PDAY0001": "T001"}


def test_match_day_finds_what_the_row_walk_finds(ledger: Engine, tmp_path: Path) -> None:
    _seed(ledger)
    text = wechat_bill(
        [
            wechat_row("PEVE0001", 2001, at="2026-11-21 00:01:00"),  # amount differs
            wechat_row("PUNKNOWN", 4000, at="2026-11-21 10:00:07"),
            wechat_row("PDAY0001", 0, out_refund_no="RDAY0001", refund_fen=300, at="2026-11-21 15:00:00"),
            wechat_row("POLD0001", 600, at="2026-11-21 11:00:00"),
            wechat_row("PNOTHERE", 800, at="2026-11-21 12:00:00"),
        ]
    )
    bill = parse_wechat_bill_bytes(text.encode())  # PDAY0001's payment line is missing: missing at the provider
    refunds = load_ledger_refunds(ledger, DAY, Channel.WECHAT)
    walked = match_channel(
        bill,
        iter_ledger_payments(ledger, DAY, Channel.WECHAT),
        refunds,
        lookup_payments=lambda numbers: lookup_payments(ledger, numbers),
    )
    fast = match_day(ledger, bill, DAY, Channel.WECHAT, refunds)
    assert sorted(repr(i) for i in fast.items) == sorted(repr(i) for i in walked.items)
    # What pos reconcile runs: the archived bill parsed while the day is read in a thread.
    archived = tmp_path / "bill.csv.gz"
    archived.write_bytes(gzip.compress(text.encode()))
    parsed, read_refunds, ahead = match_archived(ledger, archived, DAY, Channel.WECHAT)
    assert len(parsed) == len(bill) and read_refunds == refunds
    assert sorted(repr(i) for i in ahead.items) == sorted(repr(i) for i in walked.items)
    assert (ahead.matched, ahead.ledger_paid, ahead.ledger_paid_fen) == (
        walked.matched, walked.ledger_paid, walked.ledger_paid_fen,
    )  # fmt: skip
    assert sorted((i.kind.value, i.out_trade_no) for i in fast.items) == [
        ("amount_differs", "PEVE0001"), ("missing_at_provider", "PDAY0001"), ("missing_locally", "PNOTHERE"),
        ("settled_from_bill", "PUNKNOWN"),
    ]  # fmt: skip
    assert {i.terminal_id for i in fast.items if i.out_trade_no in ("PEVE0001", "PDAY0001")} == {"T001"}
    assert (fast.matched, fast.ledger_paid, fast.ledger_paid_fen) == (
        walked.matched, walked.ledger_paid, walked.ledger_paid_fen,
    )  # fmt: skip


def test_match_archived_refusing_the_bill_stops_the_ledger_read(ledger: Engine, tmp_path: Path) -> None:
    _seed(ledger)
    text = wechat_bill([wechat_row("PDAY0001", 1000, at="2026-11-21 09:00:00")])
    archived = tmp_path / "bill.csv.gz"
    archived.write_bytes(gzip.compress(text.replace("`1.00,", "`1.0O,", 1).replace("`10.00,", "`10.0O,", 1).encode()))
    with pytest.raises(BillFormatError):
        match_archived(ledger, archived, DAY, Channel.WECHAT)
    assert not [t for t in threading.enumerate() if t.name == "ledger-day-read"]  # joined, not left reading


def test_an_order_number_holding_the_separator_is_read_row_by_row(ledger: Engine) -> None:
    _seed(ledger)
    with Session(ledger) as session, session.begin():
        payment = repo.get_payment(session, "PDAY0001")
        assert payment is not None
        payment.out_trade_no = "PDAY\n0001"  # cannot be cut out of one joined text
    with LedgerDay(ledger, DAY, Channel.WECHAT) as day:
        paid = [pair for otns, amounts in day.paid() for pair in zip(_values(otns), _values(amounts), strict=True)]
        others = list(day.others())
    assert sorted(paid) == [("PDAY\n0001", 1000), ("PEVE0001", 2000)]
    assert "PDAY\n0001" not in {r[0] for r in others}


def test_a_day_too_long_for_one_sqlite_text_is_read_row_by_row(tmp_path: Path) -> None:
    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    _seed(engine)
    numbers = [f"PLONG{n:027d}" for n in range(3)]  # joined: longer than the limit below
    with Session(engine) as session:
        session.add_all([_payment(otn, "PAID", 100, _at(DAY, 9), _at(DAY, 9)) for otn in numbers])
        session.commit()

    @event.listens_for(engine, "connect")
    def _short_texts(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 64)  # one number fits, three joined do not

    try:
        engine.dispose()  # new connections get the limit
        with LedgerDay(engine, DAY, Channel.WECHAT) as day:
            paid = [pair for otns, amounts in day.paid() for pair in zip(_values(otns), _values(amounts), strict=True)]
        assert sorted(paid) == sorted([("PDAY0001", 1000), ("PEVE0001", 2000), *((otn, 100) for otn in numbers)])
    finally:
        engine.dispose()
