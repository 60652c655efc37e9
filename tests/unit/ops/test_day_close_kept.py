"""A closed day stays closed: after the Z, new business goes to the next day and the closed day's
figures (dashboard, `pos report daily`, X) are the Z's for good; late settlements are listed apart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from ops_kit import STORE, TERMINAL, People, add_people
from sqlalchemy import Engine

from pos_app.cli import cli
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState as S
from pos_app.domain.states import RefundState as R
from pos_app.journal import (
    JournalError,
    get_sale,
    new_out_trade_no,
    record_attempt_state,
    record_cash_sale,
    record_refund,
    session_scope,
    start_sale,
    verify_chain,
    void_cash_sale,
)
from pos_app.journal.days import business_window, day_status, open_business_day
from pos_app.journal.figures import cash_summary, daily_totals, net_by_day
from pos_app.journal.reports import close_day, x_report
from pos_app.journal.z_store import z_content

DAY, NEXT = "2026-11-20", "2026-11-21"
MORNING = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CLOSE = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
FIGURES = ("total", "channels", "cashiers", "hours", "first_receipt", "last_receipt")

pytestmark = pytest.mark.usefixtures("utc_machine")


@pytest.fixture
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def cash(engine: Engine, amount_fen: int, at: datetime) -> str:
    with session_scope(engine) as session:
        sale = record_cash_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", subject="Tea", at=at, amount_fen=amount_fen
        )
        return sale.out_trade_no


def wallet(engine: Engine, amount_fen: int, at: datetime, *states: S) -> str:
    with session_scope(engine) as session:
        number = new_out_trade_no(session, store_id=STORE, terminal_id=TERMINAL, at=at)
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", out_trade_no=number,
            channel=Channel.WECHAT, mode=PaymentMode.NATIVE, subject="Cake", at=at, amount_fen=amount_fen,
        )  # fmt: skip
    for step, state in enumerate(states, start=1):
        with session_scope(engine) as session:
            txn = "4200" + number[-8:] if state == S.PAID else None
            record_attempt_state(
                session, number, state, cashier="Ann", transaction_id=txn, at=at + timedelta(seconds=step)
            )
    return number


def closed_day(journal: Engine) -> tuple[People, dict[str, object], dict[str, str]]:
    """A day with a cash sale, a paid QR and a cancelled QR, closed by a Z at 15:00."""
    people = add_people(journal)
    numbers = {
        "cash": cash(journal, 500, MORNING),
        "qr": wallet(journal, 1200, MORNING + timedelta(hours=1), S.AWAITING_SCAN, S.PAID),
        "gone": wallet(journal, 800, MORNING + timedelta(hours=2), S.AWAITING_SCAN, S.CLOSED),
    }
    with session_scope(journal) as session:
        z = close_day(session, DAY, terminal_id=TERMINAL, by=people.max, at=CLOSE, offset_minutes=0)
        content = z_content(z)
    assert content["total"]["sales_count"] == 2 and content["total"]["sales_fen"] == 1700
    return people, content, numbers


def test_a_sale_after_the_z_opens_the_next_day_and_the_z_never_changes(journal: Engine) -> None:
    people, z, numbers = closed_day(journal)
    late_cash = cash(journal, 500, CLOSE + timedelta(minutes=10))
    late_qr = wallet(journal, 300, CLOSE + timedelta(minutes=20), S.AWAITING_SCAN, S.PAID)
    with session_scope(journal) as session, pytest.raises(JournalError, match="use a refund"):
        void_cash_sale(session, numbers["cash"], cashier="Ann", approved_by="Max", at=CLOSE + timedelta(minutes=25))
    with session_scope(journal) as session:
        # A refund after the close of a closed day's sale: money out today, booked to the open day.
        record_refund(
            session, out_trade_no=numbers["cash"], amount_fen=200, cashier="Ann", approved_by="Max",
            at=CLOSE + timedelta(minutes=30), state=R.SUCCESS,
        )  # fmt: skip

    with session_scope(journal) as session:
        assert {get_sale(session, n).business_day for n in (late_cash, late_qr)} == {NEXT}  # type: ignore[union-attr]
        closed = daily_totals(session, DAY, terminal_id=TERMINAL).as_dict()
        unfiltered = daily_totals(session, DAY).as_dict()
        report = x_report(session, DAY, terminal_id=TERMINAL, by=people.ann, at=CLOSE + timedelta(hours=1))
        following = daily_totals(session, NEXT, terminal_id=TERMINAL, offset_minutes=0).as_dict()
        week = net_by_day(session, date(2026, 11, 14), date(2026, 11, 20), terminal_id=TERMINAL)
        assert cash_summary(session, DAY, terminal_id=TERMINAL) == z["cash"]
        status = day_status(session, TERMINAL, DAY, at=CLOSE + timedelta(hours=1))
        assert open_business_day(session, TERMINAL, CLOSE + timedelta(hours=1)) == NEXT
        assert business_window(session, date(2026, 11, 21), 0, terminal_id=TERMINAL)[0] == CLOSE
    for key in FIGURES:
        assert closed[key] == z[key] == unfiltered[key] == report[key], key
    assert report["closed_by_z"] == 1 and report["late_settlements"] == []
    assert week[DAY] == (2, 1700)
    assert status.closed and status.z_number == 1 and status.closed_by == "Max" and status.open_day == NEXT
    # The day after holds what came after the close: two sales and the refund.
    assert following["total"]["sales_count"] == 2 and following["total"]["sales_fen"] == 800
    assert following["total"]["refunds_count"] == 1 and following["total"]["refunds_fen"] == 200
    with session_scope(journal) as session:
        assert not day_status(session, TERMINAL, NEXT, at=CLOSE).closed
    assert verify_chain(journal).ok


def test_a_payment_settled_after_the_close_is_listed_apart(journal: Engine) -> None:
    people, z, numbers = closed_day(journal)
    reversed_at = CLOSE + timedelta(hours=2)
    with session_scope(journal) as session:
        # The gateway reverses the day's paid QR after the close (a void that completed late).
        record_attempt_state(session, numbers["qr"], S.REVERSED, cashier="Ann", at=reversed_at)
    with session_scope(journal) as session:
        closed = daily_totals(session, DAY, terminal_id=TERMINAL).as_dict()
        report = x_report(session, DAY, terminal_id=TERMINAL, by=people.ann, at=reversed_at)
    for key in FIGURES:
        assert closed[key] == z[key] == report[key], key
    assert report["late_settlements"] == [
        {
            "out_trade_no": numbers["qr"],
            "channel": "wechat",
            "amount_fen": 1200,
            "state_at_close": "PAID",
            "state": "REVERSED",
            "cashier": "Ann",
            "at": reversed_at.isoformat(timespec="microseconds"),
            "recorded_by": "Ann",
        }
    ]

    assert journal.url.database is not None
    runner = CliRunner()
    args = ["report", "daily", "--date", DAY, "--journal", journal.url.database]
    result = runner.invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    content = json.loads(result.output)
    for key in (*FIGURES, "cash"):
        assert content[key] == z[key], key
    assert content["closed_by_z"] == 1
    assert [row["out_trade_no"] for row in content["late_settlements"]] == [numbers["qr"]]
    table = runner.invoke(cli, args).output
    assert "(closed, Z #1)" in table and "Late settlements after close" in table
    assert f"{numbers['qr']}  wechat" in table and "PAID -> REVERSED" in table
