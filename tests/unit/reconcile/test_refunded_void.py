"""A same-day void paid back by one full refund (every Alipay void, WeChat QR voids) is REVERSED in the
till's journal and REFUNDED in the ledger: both comparisons of journal and ledger take it as agreeing,
and still report a real difference of state."""

from __future__ import annotations

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.reconcile.inputs import JournalSale, LedgerPayment
from pos_app.engine.reconcile.journal_compare import JournalComparison
from pos_app.engine.sync_compare import SaleFigure, differences

NO = "P261204052400S00002T00300000008"


def _figure(state: PaymentState, refunded_fen: int, amount_fen: int = 1250) -> SaleFigure:
    return SaleFigure(
        out_trade_no=NO,
        channel=Channel.ALIPAY,
        amount_fen=amount_fen,
        state=state,
        refunded_fen=refunded_fen,
        business_day="2026-12-04",
    )


def test_sync_compare_takes_a_refunded_void_as_agreeing() -> None:
    assert differences({NO: _figure(PaymentState.REVERSED, 0)}, {NO: _figure(PaymentState.REFUNDED, 1250)}) == []


def test_sync_compare_still_reports_a_partial_refund_against_a_void() -> None:
    found = differences({NO: _figure(PaymentState.REVERSED, 0)}, {NO: _figure(PaymentState.PARTIALLY_REFUNDED, 500)})
    assert [d.kind for d in found] == ["state"]


def _compare(journal_state: str, ledger_state: str) -> list[str]:
    sale = JournalSale(NO, "T003", Channel.ALIPAY, 1250, journal_state)
    comparison = JournalComparison.of(Channel.ALIPAY, {NO: sale}, [])
    comparison.compare(LedgerPayment(NO, ledger_state, 1250, "T003", True), comparison.take(NO))
    return [item.kind.value for item in comparison.items]


def test_reconciliation_takes_a_refunded_void_as_agreeing() -> None:
    assert _compare("REVERSED", "REFUNDED") == []
    assert _compare("REVERSED", "PAID") == ["status_differs"]
