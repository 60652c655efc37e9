"""Money alerts in the till's core, on a real journal file (no engine needed: the engine's answers
are applied as it would send them). An answer the cashier's screen shows raises nothing; a PAID after
the cashier cancelled, or one nobody was shown, raises an alert kept until acknowledged; so does a
refund on its way that FAILED."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pos_app.api.client import EngineClient
from pos_app.api.schemas import PaymentView, RefundView
from pos_app.config import Settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import open_journal, record_refund, session_scope, verify_chain
from pos_app.terminal.alerts import AckAction, AlertKind
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.sales import Attempt
from pos_app.terminal.till import Till


@pytest.fixture
def till(demo_settings: Settings) -> Iterator[Till]:
    journal = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    client = EngineClient("http://127.0.0.1:9", demo_settings.terminal.terminal_id, b"k" * 32)
    till = Till(demo_settings, journal, client)
    till.cashier = "Demo Cashier"
    yield till
    journal.dispose()


def view(till: Till, attempt: Attempt, state: PaymentState) -> PaymentView:
    now = datetime.now(UTC)
    return PaymentView(
        out_trade_no=attempt.out_trade_no,
        terminal_id=till.terminal_id,
        channel=attempt.channel,
        mode=attempt.mode,
        amount_fen=attempt.draft.amount_fen,
        subject="Goods",
        operator="Demo Cashier",
        state=state,
        transaction_id="4200000001" if state is PaymentState.PAID else None,
        created_at=now,
        updated_at=now,
    )


def qr_sale(till: Till, fen: int = 880) -> Attempt:
    return till._start(SaleDraft(fen, "Goods"), Channel.WECHAT, PaymentMode.NATIVE)


def test_paid_on_the_cashiers_screen_raises_nothing(till: Till) -> None:
    attempt = qr_sale(till)
    assert till.apply_view(view(till, attempt, PaymentState.PAID))
    assert till.open_alerts() == [] and till.alerts_raised == 0


def test_paid_after_cancel_is_an_alert_until_acknowledged(till: Till) -> None:
    attempt = qr_sale(till)
    till.request_cancel(attempt, reason="cashier cancelled")
    till.unwatch(attempt.out_trade_no)  # the cashier went back to checkout
    till.apply_view(view(till, attempt, PaymentState.PAID))
    [alert] = till.open_alerts()
    assert alert.kind is AlertKind.PAID_AFTER_CANCEL and alert.out_trade_no == attempt.out_trade_no
    assert alert.amount_fen == 880 and alert.saw == "cancelled" and alert.became == "PAID"
    assert "¥8.80 PAID" in alert.headline() and "hand over the goods" in alert.action()
    assert till.alerts_raised == 1
    till.apply_view(view(till, attempt, PaymentState.PAID))  # the same news again: no second alert
    assert len(till.open_alerts()) == 1
    till.acknowledge(alert, AckAction.HANDED_OVER)
    assert till.open_alerts() == []
    with session_scope(till.journal) as session:
        assert verify_chain(session).ok


def test_paid_nobody_saw_is_an_alert(till: Till) -> None:
    attempt = qr_sale(till)
    till.unwatch(attempt.out_trade_no)  # e.g. the till quit with the QR on screen
    till.apply_view(view(till, attempt, PaymentState.PAID))
    [alert] = till.open_alerts()
    assert alert.kind is AlertKind.PAID_UNSEEN and alert.saw == "unknown"


def test_closed_after_cancel_is_what_the_cashier_expected(till: Till) -> None:
    attempt = qr_sale(till)
    till.request_cancel(attempt, reason="cashier cancelled")
    till.unwatch(attempt.out_trade_no)
    till.apply_view(view(till, attempt, PaymentState.CLOSED))
    assert till.open_alerts() == []


def test_a_refund_that_failed_out_of_sight_is_an_alert(till: Till) -> None:
    attempt = qr_sale(till, 2000)
    till.apply_view(view(till, attempt, PaymentState.PAID))
    with session_scope(till.journal) as session:
        refund = record_refund(
            session,
            out_trade_no=attempt.out_trade_no,
            amount_fen=500,
            cashier="Demo Cashier",
            approved_by="Demo Manager",
            at=datetime.now(UTC),
            reason="damaged",
            state=RefundState.PENDING,
        )
        out_refund_no = refund.out_refund_no
    now = datetime.now(UTC)
    failed = RefundView(
        out_refund_no=out_refund_no,
        out_trade_no=attempt.out_trade_no,
        amount_fen=500,
        state=RefundState.FAILED,
        created_at=now,
        updated_at=now,
    )
    till.apply_refund(failed)  # from the event stream: nobody is looking
    [alert] = till.open_alerts()
    assert alert.kind is AlertKind.REFUND_FAILED and alert.out_refund_no == out_refund_no
    assert "NOT got the money back" in alert.action()
