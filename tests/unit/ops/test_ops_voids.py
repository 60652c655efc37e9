"""Voids are voids: journaled with the reason and the approving manager, and counted by X/Z reports
as voids (count and amount) — a wallet void carried out as a refund included — never as refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ops_kit import START, STORE, TERMINAL, add_people
from sqlalchemy import Engine
from sqlmodel import select

from pos_app.domain.errors import InputError
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState as S
from pos_app.domain.states import RefundState as R
from pos_app.journal import (
    JournalError,
    JournalEvent,
    get_sale,
    record_attempt_state,
    record_cash_sale,
    record_refund,
    record_refund_state,
    record_wallet_void,
    session_scope,
    start_sale,
    verify_chain,
    void_cash_sale,
)
from pos_app.journal.reports import close_day, x_report
from pos_app.terminal.report_text import render_text

DAY = START.date().isoformat()


def paid_alipay(journal: Engine, number: str, amount_fen: int) -> None:
    with session_scope(journal) as session:
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", out_trade_no=number,
            channel=Channel.ALIPAY, mode=PaymentMode.NATIVE, subject="Cake", at=START, amount_fen=amount_fen,
        )  # fmt: skip
        record_attempt_state(session, number, S.PAID, cashier="Ann", transaction_id="2026" + number, at=START)


def test_voids_name_reason_and_manager_and_count_as_voids(journal: Engine) -> None:
    people = add_people(journal)
    with session_scope(journal) as session:
        cash = record_cash_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", subject="Tea", at=START, amount_fen=500
        )
    paid_alipay(journal, "AL0001VOID", 1200)
    paid_alipay(journal, "AL0002KEPT", 900)
    at = START + timedelta(minutes=5)
    with session_scope(journal) as session:
        with pytest.raises(InputError, match="manager"):
            void_cash_sale(session, cash.out_trade_no, cashier="Ann", approved_by="", at=at)
        void_cash_sale(session, cash.out_trade_no, cashier="Ann", approved_by="Max", at=at, reason="wrong item")
        with pytest.raises(InputError, match="why"):
            record_wallet_void(session, "AL0001VOID", cashier="Ann", approved_by="Max", reason=" ", at=at)
        with pytest.raises(JournalError, match="void_cash_sale"):
            record_wallet_void(session, cash.out_trade_no, cashier="Ann", approved_by="Max", reason="x", at=at)
        void = record_wallet_void(
            session, "AL0001VOID", cashier="Ann", approved_by="Max", reason="customer changed mind", at=at
        )
        refund = record_refund(
            session, out_trade_no="AL0002KEPT", amount_fen=300, cashier="Ann", approved_by="Max", at=at, reason="dent"
        )
    assert void.kind == "void" and void.amount_fen == 1200 and void.state == R.PENDING
    with session_scope(journal) as session:
        record_refund_state(session, void.out_refund_no, R.SUCCESS, cashier="Ann", at=at)
        record_refund_state(session, refund.out_refund_no, R.SUCCESS, cashier="Ann", at=at)
    with session_scope(journal) as session:
        voided = get_sale(session, "AL0001VOID")
        assert voided is not None and voided.state == S.REVERSED and voided.refunded_fen == 0
        trail = {
            e.kind: e.payload
            for e in session.exec(select(JournalEvent).where(JournalEvent.kind.in_(["sale.voided", "refund.created"])))  # type: ignore[attr-defined]
            if e.payload["out_trade_no"] in (cash.out_trade_no, "AL0001VOID")
        }
        report = x_report(session, DAY, terminal_id=TERMINAL, by=people.ann, at=at, offset_minutes=0)
    assert trail["sale.voided"]["approved_by"] == "Max" and trail["sale.voided"]["reason"] == "wrong item"
    assert trail["refund.created"]["approved_by"] == "Max"
    assert trail["refund.created"]["reason"] == "customer changed mind"
    assert trail["refund.created"]["refund"]["kind"] == "void"
    total, alipay = report["total"], report["channels"]["alipay"]
    assert (total["voids_count"], total["voids_fen"]) == (2, 1700)
    assert (total["refunds_count"], total["refunds_fen"]) == (1, 300)
    assert (total["sales_count"], total["sales_fen"], total["net_fen"]) == (1, 900, 600)
    assert (alipay["voids_count"], alipay["voids_fen"], alipay["refunds_count"]) == (1, 1200, 1)
    assert verify_chain(journal).ok

    assert "voids" in render_text(report)
    paid_alipay(journal, "AL0003PAID", 100)
    with session_scope(journal) as session:
        assert close_day(session, DAY, terminal_id=TERMINAL, by=people.max, at=at, offset_minutes=0).number == 1
    with session_scope(journal) as session, pytest.raises(JournalError, match="use a refund"):
        # The day of the sale is closed: its figures never change, so no void (a refund instead).
        record_wallet_void(session, "AL0003PAID", cashier="Ann", approved_by="Max", reason="late", at=at)
