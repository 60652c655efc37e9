"""The X and Z reports through the till's core, on a real journal file (the engine's answers applied as
it sends them): open money-surprise alerts are listed in both (count and a line each: order, what
happened, what to do), and every kind of void — cash, a wallet payment reversed at the gateway, a
wallet payment paid back by a refund — counts as a void, never as a refund or a sale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pos_app.api.client import EngineClient
from pos_app.api.schemas import PaymentView, VoidKind
from pos_app.config import Settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal import add_staff, open_journal, record_refund_state, record_wallet_void, session_scope
from pos_app.terminal.alerts import AckAction
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.report_text import render_text
from pos_app.terminal.sales import Attempt
from pos_app.terminal.till import Till

MANAGER = "Demo Manager"


@pytest.fixture
def till(demo_settings: Settings) -> Iterator[Till]:
    journal = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    terminal = demo_settings.terminal.terminal_id
    with session_scope(journal) as session:
        add_staff(session, "Demo Cashier", "1234", "cashier", terminal_id=terminal)
        add_staff(session, MANAGER, "9999", "manager", terminal_id=terminal)
    till = Till(demo_settings, journal, EngineClient("http://127.0.0.1:9", terminal, b"k" * 32))
    till.cashier = "Demo Cashier"
    yield till
    journal.dispose()


def answer(till: Till, attempt: Attempt, state: PaymentState, void_kind: VoidKind | None = None) -> None:
    """The engine's view of ``attempt`` in ``state``, journaled as the till journals it."""
    now = datetime.now(UTC)
    till.apply_view(
        PaymentView(
            out_trade_no=attempt.out_trade_no,
            terminal_id=till.terminal_id,
            channel=attempt.channel,
            mode=attempt.mode,
            amount_fen=attempt.draft.amount_fen,
            subject="Goods",
            operator="Demo Cashier",
            state=state,
            transaction_id="4200000001" + attempt.out_trade_no[-4:] if state is PaymentState.PAID else None,
            void_kind=void_kind,
            created_at=now,
            updated_at=now,
        )
    )


def paid(till: Till, fen: int, channel: Channel = Channel.WECHAT, mode: PaymentMode = PaymentMode.NATIVE) -> Attempt:
    attempt = till._start(SaleDraft(fen, "Goods"), channel, mode)
    till.watch(attempt.out_trade_no)  # on the cashier's screen: its PAID is no surprise
    answer(till, attempt, PaymentState.PAID)
    till.unwatch(attempt.out_trade_no)
    return attempt


def test_open_alerts_are_listed_in_the_x_and_the_z_report(till: Till) -> None:
    paid(till, 1500)
    cancelled = till._start(SaleDraft(880, "Goods"), Channel.WECHAT, PaymentMode.NATIVE)
    till.request_cancel(cancelled, reason="cashier cancelled")
    till.unwatch(cancelled.out_trade_no)  # the cashier went back to checkout
    answer(till, cancelled, PaymentState.PAID)  # the customer paid after all: an alert
    day = till.today()

    x = till.x_report(day, MANAGER)
    [row] = x["open_alerts"]
    assert row["out_trade_no"] == cancelled.out_trade_no and row["amount_fen"] == 880
    assert (row["alert"], row["saw"], row["became"]) == ("paid_after_cancel", "cancelled", "PAID")
    text = render_text(x)
    assert "1 open alert(s): money that ended differently from what the cashier saw" in text
    alert_lines = text.split("1 open alert(s)")[1].splitlines()[1:]
    assert alert_lines[0].startswith(f"  ! Order {cancelled.out_trade_no}: ¥8.80 PAID (you saw: cancelled)")
    assert "to do: hand over the goods, or refund it" in " ".join(line.strip() for line in alert_lines)
    assert max(len(line) for line in text.splitlines()) <= 74

    z = till.close_day(day, MANAGER)
    assert z["number"] == 1 and [a["out_trade_no"] for a in z["open_alerts"]] == [cancelled.out_trade_no]
    assert "1 open alert(s)" in render_text(z) and cancelled.out_trade_no in render_text(z)

    # Acknowledged: gone from the next X, while the stored Z keeps what was open at the close.
    [alert] = till.open_alerts()
    till.acknowledge(alert, AckAction.HANDED_OVER)
    assert till.x_report(day, MANAGER)["open_alerts"] == []
    assert "open alert" not in render_text(till.x_report(day, MANAGER))
    assert till.z_report(day) == z


def test_every_kind_of_void_counts_as_a_void(till: Till) -> None:
    kept = paid(till, 2000)
    receipt = till.cash_sale(SaleDraft(500, "Tea"), 500)
    till.void_cash(receipt.out_trade_no, reason="wrong item", manager=MANAGER)
    reversed_at_gateway = paid(till, 1200, mode=PaymentMode.MICROPAY)
    answer(till, reversed_at_gateway, PaymentState.REVERSED, VoidKind.REVERSED)
    refunded = paid(till, 900, channel=Channel.ALIPAY)
    with session_scope(till.journal) as session:
        void = record_wallet_void(
            session, refunded.out_trade_no, cashier="Demo Cashier", approved_by=MANAGER, reason="changed mind",
            at=till.clock(),
        )  # fmt: skip
    with session_scope(till.journal) as session:
        record_refund_state(session, void.out_refund_no, RefundState.SUCCESS, cashier="Demo Cashier")

    x = till.x_report(till.today(), MANAGER)
    total, channels = x["total"], x["channels"]
    assert (total["voids_count"], total["voids_fen"]) == (3, 2600)
    assert (total["refunds_count"], total["refunds_fen"]) == (0, 0)
    assert (total["sales_count"], total["sales_fen"], total["net_fen"]) == (1, 2000, 2000)
    assert (channels["wechat"]["voids_count"], channels["wechat"]["voids_fen"]) == (1, 1200)
    assert (channels["alipay"]["voids_count"], channels["alipay"]["voids_fen"]) == (1, 900)
    assert (channels["cash"]["voids_count"], channels["cash"]["voids_fen"]) == (1, 500)
    assert kept.out_trade_no == x["first_receipt"]

    z = till.close_day(till.today(), MANAGER)
    assert z["total"] == total
    total_row = next(line for line in render_text(z).splitlines() if line.startswith("TOTAL"))
    assert total_row.split() == ["TOTAL", "1", "¥20.00", "0", "¥0.00", "3", "¥26.00", "¥20.00"]
    view = till.day_view(till.today())
    assert (view.totals.total.voids_count, view.totals.total.voids_fen) == (3, 2600)
