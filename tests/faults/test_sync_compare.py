"""GET /v1/reports/terminals: the synced terminal journal beside the engine's ledger, differences flagged.

Real processes (sandbox + engine); the terminal journal is written here with the journal's own
functions, so a journal can claim a payment the engine never saw, and the engine can hold a payment
the journal never recorded.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from pos_app import journal
from pos_app.api.schemas import CreatePayment
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.engine.sync_compare import SaleFigure, differences
from pos_app.sync.outbox import OutboxDrain
from tests.faults.support import Stack, compare_on_engine

pytestmark = pytest.mark.slow


def _figure(number: str, state: PaymentState, amount: int = 500, refunded: int = 0) -> SaleFigure:
    return SaleFigure(
        out_trade_no=number,
        channel=Channel.WECHAT,
        amount_fen=amount,
        state=state,
        refunded_fen=refunded,
        business_day="2026-11-22",
    )


def test_differences_name_each_kind() -> None:
    paid = _figure("A", PaymentState.PAID)
    found = differences(
        {"A": paid, "B": _figure("B", PaymentState.PAID), "C": _figure("C", PaymentState.CLOSED), "D": paid},
        {"A": paid, "D": _figure("D", PaymentState.PAID, refunded=100), "E": _figure("E", PaymentState.PAID)},
    )
    assert [(d.out_trade_no, d.kind) for d in found] == [
        ("B", "terminal_only"),
        ("D", "refunded"),
        ("E", "engine_only"),
    ]
    closed_vs_paid = differences({"A": _figure("A", PaymentState.CLOSED)}, {"A": paid})
    assert [d.kind for d in closed_vs_paid] == ["state"]
    assert differences({"A": paid}, {"A": _figure("A", PaymentState.PAID, amount=501)})[0].kind == "amount"


def test_engine_flags_a_payment_only_one_side_saw(tmp_path: Path) -> None:
    stack = Stack.create(tmp_path / "home")
    try:
        stack.start("sandbox")
        stack.start("engine")
        stack.activate_terminal()
        asyncio.run(_scenario(stack))
    finally:
        stack.stop_all()


async def _scenario(stack: Stack) -> None:
    settings = stack.settings
    now = datetime.now(UTC)
    ghost = make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=900, at=now.astimezone())
    engine_only = make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=901, at=now.astimezone())
    db = journal.open_journal(settings.path(settings.terminal.journal_path))
    async with stack.client() as client:
        try:
            with journal.session_scope(db) as session:
                journal.record_cash_sale(
                    session, terminal_id="T001", store_id="S00001", cashier="Demo Cashier", subject="tea", at=now,
                    amount_fen=800,
                )  # fmt: skip
                # The terminal claims a WeChat payment the engine never received.
                journal.start_sale(
                    session, terminal_id="T001", store_id="S00001", cashier="Demo Cashier", out_trade_no=ghost,
                    channel=Channel.WECHAT, mode=PaymentMode.MICROPAY, subject="ghost", at=now, amount_fen=1500,
                )  # fmt: skip
                journal.record_attempt_state(session, ghost, PaymentState.PAID, cashier="Demo Cashier", at=now)
            drain = OutboxDrain(db, client, "T001")
            await drain.drain_once()
            assert drain.status.caught_up

            # The engine takes a payment the terminal never journals.
            async with httpx.AsyncClient(base_url=stack.sandbox_url) as sandbox:
                code = (await sandbox.post("/sandbox/authcodes", json={"channel": "wechat"})).json()["auth_code"]
            view = await client.create_payment(
                CreatePayment(
                    out_trade_no=engine_only, amount_fen=700, mode=PaymentMode.MICROPAY, auth_code=code,
                    subject="not journaled", operator="alice",
                )
            )  # fmt: skip
            assert view.state is PaymentState.PAID

            # The terminal dates sales in its own time zone, the engine in the business one (China):
            # look at both days.
            days = {now.astimezone().date(), now.astimezone(ZoneInfo("Asia/Shanghai")).date()}
            comparisons = [await compare_on_engine(client, day) for day in sorted(days)]
        finally:
            db.dispose()
    found = {d.out_trade_no: d for c in comparisons for d in c.differences}
    assert {n: d.kind for n, d in found.items()} == {ghost: "terminal_only", engine_only: "engine_only"}
    assert "never saw it" in found[ghost].message
    terminal_net = {(row.channel, c.day): row.net_fen for c in comparisons for row in c.terminal}
    engine_net = {row.channel: row.net_fen for c in comparisons for row in c.engine if row.net_fen}
    local = now.astimezone().date().isoformat()
    assert terminal_net[(Channel.CASH, local)] == 800 and terminal_net[(Channel.WECHAT, local)] == 1500
    assert engine_net == {Channel.WECHAT: 700}
    assert all(c.synced_seq == drain.status.acked_seq > 0 for c in comparisons)
