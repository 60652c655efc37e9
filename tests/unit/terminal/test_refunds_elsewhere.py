"""Refunds made elsewhere (the manager console) in the till's core, on a real journal file: the
engine's refund views applied as the event stream delivers them. Journaled once, moved like the
till's own, never for a sale the journal does not hold nor beyond what is left to refund; the hash
chain still verifies with the new ``origin`` in the snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from pos_app.api.client import EngineClient
from pos_app.api.schemas import PaymentView, RefundView
from pos_app.config import Settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import Refund, open_journal, session_scope, verify_chain
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.till import Till


@pytest.fixture
def till(demo_settings: Settings) -> Iterator[Till]:
    journal = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    client = EngineClient("http://127.0.0.1:9", demo_settings.terminal.terminal_id, b"k" * 32)
    till = Till(demo_settings, journal, client)
    till.cashier = "Demo Cashier"
    yield till
    journal.dispose()


def paid_sale(till: Till, fen: int = 2000) -> str:
    attempt = till._start(SaleDraft(fen, "Goods"), Channel.WECHAT, PaymentMode.NATIVE)
    now = datetime.now(UTC)
    till.apply_view(
        PaymentView(
            out_trade_no=attempt.out_trade_no, terminal_id=till.terminal_id, channel=attempt.channel,
            mode=attempt.mode, amount_fen=fen, subject="Goods", operator="Demo Cashier",
            state=PaymentState.PAID, transaction_id="4200000001", created_at=now, updated_at=now,
        )
    )  # fmt: skip
    return attempt.out_trade_no


def refund_view(out_trade_no: str, state: RefundState, *, number: str = "RCONSOLE0001", fen: int = 500) -> RefundView:
    now = datetime.now(UTC)
    return RefundView(
        out_refund_no=number, out_trade_no=out_trade_no, amount_fen=fen, state=state,
        refund_id="50300001" if state is RefundState.SUCCESS else None,
        operator="console:mgr-a", approved_by="Demo Manager", created_at=now, updated_at=now,
    )  # fmt: skip


def rows(till: Till) -> list[Refund]:
    with session_scope(till.journal) as session:
        return list(session.exec(select(Refund)).all())


def test_heard_processing_then_success_is_one_refund_made_in_the_console(till: Till) -> None:
    number = paid_sale(till)
    assert till.apply_refund(refund_view(number, RefundState.PROCESSING))
    assert till.apply_refund(refund_view(number, RefundState.PROCESSING)) is False  # replayed event
    assert till.apply_refund(refund_view(number, RefundState.SUCCESS))
    assert till.apply_refund(refund_view(number, RefundState.SUCCESS)) is False
    [row] = rows(till)
    assert (row.state, row.origin, row.cashier, row.approved_by) == (
        RefundState.SUCCESS, "console", "console:mgr-a", "Demo Manager",
    )  # fmt: skip
    sale = till.sale(number)
    assert sale is not None and (sale.state, sale.refunded_fen) == (PaymentState.PARTIALLY_REFUNDED, 500)
    assert sale.elsewhere_words == "made in the manager console"
    assert verify_chain(till.journal).ok
    assert till.open_alerts() == []


def test_a_failed_console_refund_moves_no_money_and_raises_no_till_alert(till: Till) -> None:
    number = paid_sale(till)
    assert till.apply_refund(refund_view(number, RefundState.PROCESSING))
    assert till.apply_refund(refund_view(number, RefundState.FAILED))
    sale = till.sale(number)
    assert sale is not None and (sale.state, sale.refunded_fen) == (PaymentState.PAID, 0)
    assert till.open_alerts() == []


def test_never_for_a_sale_not_in_the_journal_nor_beyond_what_is_left(till: Till) -> None:
    assert till.apply_refund(refund_view("P" + "9" * 20, RefundState.SUCCESS)) is False
    number = paid_sale(till, 600)
    assert till.apply_refund(refund_view(number, RefundState.SUCCESS, fen=700)) is False
    assert rows(till) == []
    sale = till.sale(number)
    assert sale is not None and sale.refunded_fen == 0 and not sale.refunded_elsewhere
