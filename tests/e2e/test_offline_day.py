"""An offline day: the engine is down from the first sale; the terminal takes 500 cash sales, voids and
shift operations, refuses a QR payment, counts what it could not send; then the engine comes back
and the terminal catches up: every event synced exactly once, the open QR order settled, totals equal.

Real processes (`pos sandbox serve`, `pos engine serve`) from a demo profile; the terminal is this
process using the till's use cases (pos_app.terminal.till, no Textual) and the outbox drain. The test
asserts behaviour only; ``tests/bench/bench_offline_day.py`` runs the same day and prints its times.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pos_app import journal
from pos_app.domain.errors import EngineUnavailable
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.sync.outbox import OutboxDrain
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.till import Till
from tests.faults.support import Stack, check_books, compare_on_engine

pytestmark = pytest.mark.slow

SALES = 500


@dataclass(frozen=True, slots=True)
class OfflineDay:
    """What the benchmark reports of one run: wall times of the two phases and the volumes moved."""

    sales_s: float  # the offline sales, voids and shift open, journaled
    catch_up_s: float  # from the engine's return to the last event synced and the QR order settled
    events: int
    unsent: int
    cash_net_fen: int


def run_offline_day(home: Path) -> OfflineDay:
    """The whole day against real processes under ``home``, asserting its behaviour as it goes."""
    stack = Stack.create(home)
    try:
        stack.start("sandbox")
        stack.start("engine")
        stack.activate_terminal()
        stack.kill("engine")  # down for the whole day
        return asyncio.run(_day(stack))
    finally:
        stack.stop_all()


def test_offline_day_then_catch_up(tmp_path: Path) -> None:
    run_offline_day(tmp_path / "home")


async def _day(stack: Stack) -> OfflineDay:
    settings = stack.settings
    terminal_id = settings.terminal.terminal_id
    engine = journal.open_journal(settings.path(settings.terminal.journal_path))
    client = stack.client()
    till = Till(settings, engine, client)
    drain = OutboxDrain(engine, client, terminal_id, initial_backoff_s=0.1, max_backoff_s=1.0)
    try:
        till.login("1234")
        manager = till.check_manager("9999")
        assert not await till.engine_reachable()  # the terminal knows at once

        started = time.monotonic()
        with journal.session_scope(engine) as session:
            journal.open_shift(session, terminal_id=terminal_id, cashier="Demo Cashier", float_fen=20_000, at=_now())
        amounts = [100 + (n * 37) % 9_900 for n in range(SALES)]
        numbers = [
            till.cash_sale(SaleDraft(amount, f"offline {n}"), amount).out_trade_no for n, amount in enumerate(amounts)
        ]
        for number in numbers[:5]:
            till.void_cash(number, reason="customer changed mind", manager=manager)
        voided = sum(amounts[:5])
        sales_s = time.monotonic() - started

        # A QR payment cannot be taken offline: the cashier is told, nothing can be charged.
        qr = await till.start_native(SaleDraft(1234, "offline QR"), Channel.WECHAT)
        assert qr.view is None and qr.error and "cash only" in qr.error
        with pytest.raises(EngineUnavailable):
            await drain.drain_once()
        assert drain.status.online is False
        unsent = till.unsent_count()
        assert unsent == drain.refresh_unsent() and unsent >= SALES + 5 + 1  # sales, voids, the shift, the QR
        with journal.session_scope(engine) as session:
            journal.close_shift(
                session,
                terminal_id=terminal_id,
                cashier="Demo Cashier",
                counted_fen=20_000 + sum(amounts) - voided,
                at=_now(),
            )

        # The link returns.
        stack.start("engine")
        back = time.monotonic()
        for row in till.pending():
            assert await till.settle(row.out_trade_no) is PaymentState.CLOSED  # never reached the engine
        while till.unsent_count():
            await drain.drain_once()
        catch_up_s = time.monotonic() - back
        assert drain.status.caught_up and drain.status.online and drain.status.error is None

        books = await check_books(stack)
        comparison = await compare_on_engine(client, _now().astimezone().date())
        [cash] = [row for row in comparison.terminal if row.channel is Channel.CASH]
        assert cash.count == SALES - 5
        assert cash.net_fen == sum(amounts) - voided == books.terminal_net_fen
        return OfflineDay(
            sales_s=sales_s, catch_up_s=catch_up_s, events=books.events, unsent=unsent, cash_net_fen=cash.net_fen
        )
    finally:
        await client.aclose()
        engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)
