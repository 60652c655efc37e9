"""Sales and payment attempts: the intent written in one transaction, amounts, states moving forward."""

from __future__ import annotations

import pytest
from journal_kit import AT, STORE, TERMINAL, settle, wallet_sale
from sqlalchemy import Engine
from sqlmodel import Session, select

from pos_app.domain.errors import AmountError, IllegalTransition
from pos_app.domain.ids import parse_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import (
    JournalError,
    LineIn,
    OutboxEntry,
    Sale,
    get_attempt,
    get_sale,
    new_out_trade_no,
    non_final_attempts,
    pending_outbox,
    record_attempt_state,
    sale_events,
    sale_lines,
    session_scope,
    start_sale,
    unsent_count,
    verify_chain,
)

S = PaymentState


def test_start_sale_writes_sale_lines_attempt_event_and_outbox_together(journal: Engine) -> None:
    with session_scope(journal) as session:
        number = new_out_trade_no(session, store_id=STORE, terminal_id=TERMINAL, at=AT)
        sale = start_sale(
            session,
            terminal_id=TERMINAL,
            store_id=STORE,
            cashier="Alice",
            out_trade_no=number,
            channel=Channel.ALIPAY,
            mode=PaymentMode.NATIVE,
            subject="Lunch",
            lines=[LineIn("Noodles", 1800), LineIn("Tea", 350, qty=2)],
            at=AT,
        )
    assert sale.amount_fen == 2500 and sale.state is S.CREATED
    assert parse_trade_no(number).seq == 1 and parse_trade_no(number).terminal_code == TERMINAL
    with Session(journal) as session:
        stored = get_sale(session, number)
        assert stored is not None and stored.cashier == "Alice" and stored.business_day == "2026-11-22"
        assert [(line.name, line.qty, line.amount_fen) for line in sale_lines(session, stored)] == [
            ("Noodles", 1, 1800),
            ("Tea", 2, 700),
        ]
        attempt = get_attempt(session, number)
        assert attempt is not None and attempt.state is S.CREATED and attempt.amount_fen == 2500
        (event,) = sale_events(session, number)
        assert event.kind == "sale.started" and event.payload["cashier"] == "Alice"
        assert event.payload["sale"]["amount_fen"] == 2500
        assert [e.seq for e in pending_outbox(session)] == [event.seq]
        assert unsent_count(session) == 1


def test_a_failing_sale_leaves_nothing_behind(journal: Engine) -> None:
    wallet_sale(journal)
    with pytest.raises(Exception), session_scope(journal) as session:  # noqa: B017 - any failure must roll back
        number = new_out_trade_no(session, store_id=STORE, terminal_id=TERMINAL, at=AT)
        start_sale(
            session,
            terminal_id=TERMINAL,
            store_id=STORE,
            cashier="Alice",
            out_trade_no=number,
            channel=Channel.WECHAT,
            mode=PaymentMode.NATIVE,
            subject="x",
            amount_fen=100,
            at=AT,
        )
        raise ConnectionError("power lost before commit")
    with Session(journal) as session:
        assert len(session.exec(select(Sale)).all()) == 1
        assert len(session.exec(select(OutboxEntry)).all()) == 1
    second = wallet_sale(journal)
    assert parse_trade_no(second.out_trade_no).seq == 2  # the rolled-back number was never used
    assert verify_chain(journal).ok


@pytest.mark.parametrize(
    ("amount", "lines", "error"),
    [
        (None, None, "Enter an amount"),
        (0, None, "more than zero"),
        (-5, None, "more than zero"),
        (100, [LineIn("x", 200)], "does not match"),
        (None, [LineIn("x", 0)], "more than zero"),
    ],
)
def test_bad_amounts_are_refused(journal: Engine, amount: int | None, lines: list[LineIn] | None, error: str) -> None:
    with pytest.raises(AmountError, match=error), session_scope(journal) as session:
        start_sale(
            session,
            terminal_id=TERMINAL,
            store_id=STORE,
            cashier="Alice",
            out_trade_no="P261122103000S00001T00199999999",
            channel=Channel.WECHAT,
            mode=PaymentMode.NATIVE,
            subject="x",
            amount_fen=amount,
            lines=lines,
            at=AT,
        )


def test_payment_states_move_forward_and_repeats_are_harmless(journal: Engine) -> None:
    sale = wallet_sale(journal)
    number = sale.out_trade_no
    assert settle(journal, number, S.SUBMITTED, S.USER_PAYING, S.USER_PAYING) == [True, True, False]
    with Session(journal) as session:
        assert [a.out_trade_no for a in non_final_attempts(session)] == [number]
    assert settle(journal, number, S.PAID, S.PAID, transaction_id="4200001") == [True, False]
    with pytest.raises(IllegalTransition), session_scope(journal) as session:
        record_attempt_state(session, number, S.CLOSED, cashier="Alice")
    with Session(journal) as session:
        stored = get_sale(session, number)
        assert stored is not None and stored.state is S.PAID and stored.transaction_id == "4200001"
        trail = sale_events(session, number)
        assert [(e.payload.get("from"), e.payload.get("to")) for e in trail] == [
            (None, None),
            ("CREATED", "SUBMITTED"),
            ("SUBMITTED", "USER_PAYING"),
            ("USER_PAYING", "PAID"),
        ]
        assert non_final_attempts(session) == []
    with pytest.raises(JournalError, match="No payment"), session_scope(journal) as session:
        record_attempt_state(session, "P000000000000S00001T00100000099", S.PAID, cashier="Alice")
