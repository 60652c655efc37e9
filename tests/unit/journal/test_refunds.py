"""Refunds: partial then full, a failed refund freeing its amount again."""

from __future__ import annotations

import pytest
from journal_kit import AT, settle, wallet_sale
from sqlalchemy import Engine

from pos_app.domain.errors import AmountError, IllegalTransition
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import (
    JournalError,
    get_attempt,
    get_sale,
    record_refund,
    record_refund_state,
    refundable_fen,
    sale_events,
    session_scope,
    unsettled_refunds,
    verify_chain,
)

S = PaymentState


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
