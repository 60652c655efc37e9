"""The repository the till calls: sales, payment states, cash, refunds, shifts, search, outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from journal_kit import AT, STORE, TERMINAL, wallet_sale
from sqlalchemy import Engine
from sqlmodel import Session, select

from pos_app.domain.errors import AmountError, IllegalTransition
from pos_app.domain.ids import parse_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import (
    CashMovement,
    JournalError,
    LineIn,
    OutboxEntry,
    PaymentAttempt,
    Sale,
    close_shift,
    current_shift,
    get_attempt,
    get_sale,
    list_sales,
    mark_sent,
    new_out_trade_no,
    non_final_attempts,
    open_shift,
    pending_outbox,
    record_attempt_state,
    record_cash_movement,
    record_cash_sale,
    record_refund,
    record_refund_state,
    refundable_fen,
    sale_events,
    sale_lines,
    session_scope,
    start_sale,
    unsent_count,
    unsettled_refunds,
    verify_chain,
    void_cash_sale,
)

S = PaymentState


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


def test_refunds_partial_then_full(journal: Engine) -> None:
    number = wallet_sale(journal, 1000).out_trade_no
    with pytest.raises(JournalError, match="no payment to refund"), session_scope(journal) as session:
        record_refund(session, out_trade_no=number, amount_fen=100, cashier="Alice", approved_by="Mia", at=AT)
    settle(journal, number, S.PAID)
    with session_scope(journal) as session:
        first = record_refund(session, out_trade_no=number, amount_fen=300, cashier="Alice", approved_by="Mia", at=AT)
        assert first.state is RefundState.PENDING
        sale = get_sale(session, number)
        assert sale is not None and refundable_fen(session, sale) == 700
    with pytest.raises(AmountError, match="more than what is left"), session_scope(journal) as session:
        record_refund(session, out_trade_no=number, amount_fen=701, cashier="Alice", approved_by="Mia", at=AT)
    with session_scope(journal) as session:
        assert [r.out_refund_no for r in unsettled_refunds(session)] == [first.out_refund_no]
        assert record_refund_state(session, first.out_refund_no, RefundState.PROCESSING, cashier="Alice")
        assert record_refund_state(
            session, first.out_refund_no, RefundState.SUCCESS, cashier="Alice", refund_id="50001"
        )
        assert not record_refund_state(session, first.out_refund_no, RefundState.SUCCESS, cashier="Alice")
        sale = get_sale(session, number)
        assert sale is not None and sale.state is S.PARTIALLY_REFUNDED and sale.refunded_fen == 300
        second = record_refund(session, out_trade_no=number, amount_fen=700, cashier="Alice", approved_by="Mia", at=AT)
    with session_scope(journal) as session:
        record_refund_state(session, second.out_refund_no, RefundState.SUCCESS, cashier="Alice")
        sale = get_sale(session, number)
        assert sale is not None and sale.state is S.REFUNDED and sale.refunded_fen == 1000
        assert get_attempt(session, number).state is S.REFUNDED  # type: ignore[union-attr]
        kinds = [e.kind for e in sale_events(session, number)]
    assert kinds == [
        "sale.started",
        "payment.state",
        "refund.created",
        "refund.state",
        "refund.state",
        "refund.created",
        "refund.state",
    ]
    assert verify_chain(journal).ok


def test_a_failed_refund_frees_the_amount_again(journal: Engine) -> None:
    number = wallet_sale(journal, 1000).out_trade_no
    settle(journal, number, S.PAID)
    with session_scope(journal) as session:
        refund = record_refund(session, out_trade_no=number, amount_fen=1000, cashier="A", approved_by="M", at=AT)
        record_refund_state(session, refund.out_refund_no, RefundState.FAILED, cashier="A", failure_reason="ABNORMAL")
        sale = get_sale(session, number)
        assert sale is not None and sale.state is S.PAID and refundable_fen(session, sale) == 1000
    with pytest.raises(IllegalTransition), session_scope(journal) as session:
        record_refund_state(session, refund.out_refund_no, RefundState.SUCCESS, cashier="A")


def test_cash_sale_void_and_shift_count(journal: Engine) -> None:
    with session_scope(journal) as session:
        open_shift(session, terminal_id=TERMINAL, cashier="Bob", float_fen=20000, at=AT)
    with pytest.raises(JournalError, match="already open"), session_scope(journal) as session:
        open_shift(session, terminal_id=TERMINAL, cashier="Bob", float_fen=0, at=AT)
    sale = cash_sale(journal, 1550, tendered_fen=2000)
    assert sale.state is S.PAID and sale.channel is Channel.CASH and sale.mode is PaymentMode.CASH
    kept = cash_sale(journal, 800, lines=None)
    with pytest.raises(AmountError, match="less than"):
        cash_sale(journal, 800, tendered_fen=700)
    with session_scope(journal) as session:
        void_cash_sale(session, sale.out_trade_no, cashier="Bob", approved_by="Mia", at=AT, reason="wrong item")
        record_refund(
            session,
            out_trade_no=kept.out_trade_no,
            amount_fen=300,
            cashier="Bob",
            approved_by="Mia",
            at=AT,
            state=RefundState.SUCCESS,
        )
        record_cash_movement(session, terminal_id=TERMINAL, kind="pay_out", amount_fen=1000, cashier="Bob", at=AT)
        record_cash_movement(session, terminal_id=TERMINAL, kind="pay_in", amount_fen=50, cashier="Bob", at=AT)
    with pytest.raises(JournalError, match="Only a paid sale"), session_scope(journal) as session:
        void_cash_sale(session, sale.out_trade_no, cashier="Bob", approved_by="Mia", at=AT)
    with session_scope(journal) as session:
        voided = get_sale(session, sale.out_trade_no)
        assert voided is not None and voided.state is S.REVERSED
        refunded = get_sale(session, kept.out_trade_no)
        assert refunded is not None and refunded.state is S.PARTIALLY_REFUNDED
        shift = close_shift(session, terminal_id=TERMINAL, cashier="Bob", counted_fen=19500, at=AT + timedelta(hours=8))
    # 20000 float + 1550 - 1550 (void) + 800 - 300 (refund) - 1000 + 50
    assert shift.expected_cash_fen == 19550 and shift.counted_cash_fen == 19500
    with Session(journal) as session:
        assert current_shift(session, TERMINAL) is None
        movements = session.exec(select(CashMovement)).all()
        assert {m.shift_id for m in movements} == {shift.id}
        assert all(m.cashier == "Bob" for m in movements)
    assert verify_chain(journal).ok


def test_void_is_same_day_and_cash_only(journal: Engine) -> None:
    sale = cash_sale(journal)
    with pytest.raises(JournalError, match="today"), session_scope(journal) as session:
        void_cash_sale(session, sale.out_trade_no, cashier="B", approved_by="M", at=AT + timedelta(days=1))
    wallet = wallet_sale(journal)
    with pytest.raises(JournalError, match="engine"), session_scope(journal) as session:
        void_cash_sale(session, wallet.out_trade_no, cashier="B", approved_by="M", at=AT)


def test_list_sales_search(journal: Engine) -> None:
    morning = datetime(2026, 11, 22, 9, 15, tzinfo=UTC).astimezone()
    a = wallet_sale(journal, 1230, at=morning)
    b = wallet_sale(journal, 990, channel=Channel.ALIPAY, mode=PaymentMode.NATIVE, at=morning + timedelta(hours=2))
    c = cash_sale(journal, 1230, at=morning + timedelta(hours=3))
    settle(journal, a.out_trade_no, S.PAID, transaction_id="4200000777")
    other_day = wallet_sale(journal, 1230, at=morning + timedelta(days=1))
    day = morning.date()

    def found(query: str = "", when: object = day) -> list[str]:
        with Session(journal) as session:
            return [s.out_trade_no for s in list_sales(session, when, query)]  # type: ignore[arg-type]

    assert found() == [c.out_trade_no, b.out_trade_no, a.out_trade_no]  # newest first
    assert found("12.30") == [c.out_trade_no, a.out_trade_no]
    assert found("¥9.9") == [b.out_trade_no]
    assert found("alipay") == [b.out_trade_no]
    assert found("Cash 12.3") == [c.out_trade_no]
    assert found(a.out_trade_no[-6:]) == [a.out_trade_no]
    assert found("0777") == [a.out_trade_no]
    assert found(morning.strftime("%H:%M")) == [a.out_trade_no]
    assert found("paid wechat") == [a.out_trade_no]
    assert found("nothing-like-this") == []
    assert found(when=day.isoformat()) == found()
    assert len(found(when=None)) == 4 and other_day.out_trade_no in found(when=None)


def test_outbox_drains_in_order(journal: Engine) -> None:
    for _ in range(3):
        wallet_sale(journal)
    with session_scope(journal) as session:
        assert unsent_count(session) == 3
        assert [e.seq for e in pending_outbox(session, 2)] == [1, 2]
        assert mark_sent(session, 2) == 2
        assert mark_sent(session, 2) == 0  # a replayed ack changes nothing
        assert [e.seq for e in pending_outbox(session)] == [3]
        assert unsent_count(session) == 1
        body = pending_outbox(session)[0].as_upload()
    assert set(body) == {"seq", "kind", "payload", "at", "prev_hash", "hash"}
    with Session(journal) as session:
        assert session.exec(select(PaymentAttempt)).all()[0].cashier == "Alice"
