"""Shifts: counted float, cash in/out with roles, blind close per method, manager sign-off; every step
is a journal event and the chain stays verifiable."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from ops_kit import FLOAT_COUNTS, START, STORE, TERMINAL, add_people, events
from sqlalchemy import Engine

from pos_app.domain.errors import AmountError, AuthorisationError, InputError
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import (
    record_attempt_state,
    record_cash_sale,
    session_scope,
    shifts,
    start_sale,
    verify_chain,
)
from pos_app.journal.errors import JournalError


def test_a_whole_shift(journal: Engine) -> None:
    people = add_people(journal)
    t = START
    with session_scope(journal) as session:
        shift = shifts.open_shift_counted(session, terminal_id=TERMINAL, by=people.ann, counts=FLOAT_COUNTS, at=t)
    assert shift.opening_float_fen == 10000 + 5000 + 10 * 1000 + 5 * 100
    with session_scope(journal) as session:
        record_cash_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", subject="x", at=t, amount_fen=1850,
            tendered_fen=2000,
        )  # fmt: skip
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", out_trade_no="PW1", channel=Channel.WECHAT,
            mode=PaymentMode.NATIVE, subject="x", at=t, amount_fen=3300,
        )  # fmt: skip
        record_attempt_state(session, "PW1", PaymentState.PAID, cashier="Ann", transaction_id="4200", at=t)
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", out_trade_no="PA1", channel=Channel.ALIPAY,
            mode=PaymentMode.MICROPAY, subject="x", at=t, amount_fen=700,
        )  # fmt: skip
        record_attempt_state(session, "PA1", PaymentState.PAID, cashier="Ann", transaction_id="2026", at=t)
        shifts.cash_in(session, terminal_id=TERMINAL, by=people.ann, amount_fen=500, reason="coins", at=t)
        shifts.cash_out(session, terminal_id=TERMINAL, by=people.max, amount_fen=1200, reason="bread", at=t)
        assert shifts.drawer_expected_fen(session, TERMINAL) == 25500 + 1850 + 500 - 1200
    with session_scope(journal) as session, pytest.raises(AuthorisationError, match="take cash out"):
        shifts.cash_out(session, terminal_id=TERMINAL, by=people.ann, amount_fen=100, reason="x", at=t)
    with session_scope(journal) as session, pytest.raises(InputError, match="why"):
        shifts.cash_in(session, terminal_id=TERMINAL, by=people.ann, amount_fen=100, reason="  ", at=t)
    with session_scope(journal) as session, pytest.raises(AmountError):
        shifts.blind_close(session, terminal_id=TERMINAL, by=people.ann, counts={3000: 1}, at=t)
    counts = {10000: 2, 5000: 1, 500: 1, 100: 10, 50: 1}  # ¥265.50 counted, ¥266.50 expected
    with session_scope(journal) as session:
        result = shifts.blind_close(
            session, terminal_id=TERMINAL, by=people.bob, counts=counts, at=t + timedelta(hours=8),
            wallet_counted={Channel.ALIPAY: 600},
        )  # fmt: skip
    cash = result.method("cash")
    assert cash.expected_fen == 26650 and cash.counted_fen == 26550 and cash.difference_fen == -100
    assert (result.method("wechat").expected_fen, result.method("wechat").counted_fen) == (3300, 3300)
    assert result.method(Channel.ALIPAY).difference_fen == -100
    assert result.difference_fen == -200 and not result.balanced
    assert result.counts[10000] == 2 and result.counts[2000] == 0
    with session_scope(journal) as session, pytest.raises(AuthorisationError):
        shifts.sign_off(session, shift_id=result.shift_id, manager=people.bob, at=t)
    with session_scope(journal) as session:
        assert [c.shift_id for c in shifts.unsigned_closes(session, TERMINAL)] == [result.shift_id]
        signed = shifts.sign_off(session, shift_id=result.shift_id, manager=people.max, at=t, note="coin jar")
    assert signed.signed_off_by == "Max"
    with session_scope(journal) as session, pytest.raises(JournalError, match="already signed off"):
        shifts.sign_off(session, shift_id=result.shift_id, manager=people.max, at=t)
    kinds = [event.kind for event in events(journal)]
    assert kinds[3:] == [
        "shift.opened", "shift.float_counted", "sale.cash", "sale.started", "payment.state", "sale.started",
        "payment.state", "cash.movement", "cash.movement", "shift.closed", "shift.counted", "shift.signed_off",
    ]  # fmt: skip
    counted = events(journal)[-2].payload
    assert counted["cashier"] == "Bob" and counted["difference_fen"] == -200
    assert counted["shift_close"]["cash_counted_fen"] == 26550
    assert events(journal)[-1].payload["note"] == "coin jar"
    assert verify_chain(journal).ok
    with session_scope(journal) as session, pytest.raises(JournalError, match="No shift is open"):
        shifts.cash_in(session, terminal_id=TERMINAL, by=people.ann, amount_fen=100, reason="x", at=t)


def test_a_hand_edited_count_is_detected(journal: Engine) -> None:
    people = add_people(journal)
    with session_scope(journal) as session:
        shifts.open_shift_counted(session, terminal_id=TERMINAL, by=people.ann, counts={1000: 5}, at=START)
        shifts.blind_close(session, terminal_id=TERMINAL, by=people.ann, counts={1000: 5}, at=START)
    assert verify_chain(journal).ok
    journal.dispose()
    assert journal.url.database is not None
    raw = sqlite3.connect(Path(journal.url.database))
    raw.execute("UPDATE shift_closes SET cash_counted_fen = cash_counted_fen + 1000")
    raw.commit()
    raw.close()
    result = verify_chain(journal)
    assert not result.ok and "shift_close 1" in str(result)


def test_only_known_notes_and_one_open_shift(journal: Engine) -> None:
    people = add_people(journal)
    with session_scope(journal) as session, pytest.raises(AmountError):
        shifts.open_shift_counted(session, terminal_id=TERMINAL, by=people.ann, counts={1000: -1}, at=START)
    with session_scope(journal) as session:
        shifts.open_shift_counted(session, terminal_id=TERMINAL, by=people.ann, counts={}, at=START)
    with session_scope(journal) as session, pytest.raises(JournalError, match="already open"):
        shifts.open_shift_counted(session, terminal_id=TERMINAL, by=people.bob, counts={}, at=START)
    with session_scope(journal) as session, pytest.raises(AmountError, match="does not hold"):
        shifts.cash_out(session, terminal_id=TERMINAL, by=people.max, amount_fen=1, reason="x", at=START)
    people.ann.active = False
    with pytest.raises(AuthorisationError, match="no longer active"):
        shifts.authorise(people.ann, shifts.Action.CASH_IN)
