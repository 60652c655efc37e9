"""Cash: cash sales, same-day voids, pay-ins and pay-outs, and the shift count they add up to."""

from __future__ import annotations

from datetime import timedelta

import pytest
from journal_kit import AT, TERMINAL, cash_sale, wallet_sale
from sqlalchemy import Engine
from sqlmodel import Session, select

from pos_app.domain.errors import AmountError
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import (
    CashMovement,
    JournalError,
    close_shift,
    current_shift,
    get_sale,
    open_shift,
    record_cash_movement,
    record_refund,
    session_scope,
    verify_chain,
    void_cash_sale,
)

S = PaymentState


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
