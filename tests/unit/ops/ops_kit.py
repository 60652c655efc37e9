"""A realistic trading day written through the journal's own repository functions, and an independent
recomputation of the day's figures from the event log's payloads (not from the report's SQL)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState as S
from pos_app.domain.states import RefundState as R
from pos_app.journal import (
    JournalEvent,
    LineIn,
    Staff,
    add_staff,
    get_sale,
    new_out_trade_no,
    open_journal,
    record_attempt_state,
    record_cash_sale,
    record_refund,
    record_refund_state,
    refundable_fen,
    session_scope,
    shifts,
    start_sale,
    void_cash_sale,
)

TERMINAL, STORE = "T001", "S00001"
DAY = "2026-11-20"
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
#: Counts by denomination for the opening float (¥150 + ¥100 + ¥5) and a till close.
FLOAT_COUNTS = {10000: 1, 5000: 1, 1000: 10, 100: 5}


@dataclass
class People:
    ann: Staff
    bob: Staff
    max: Staff


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Engine]:
    engine = open_journal(tmp_path / "journal.sqlite3")
    yield engine
    engine.dispose()


def add_people(engine: Engine) -> People:
    with session_scope(engine) as session:
        ann = add_staff(session, "Ann", "1111", "cashier", terminal_id=TERMINAL)
        bob = add_staff(session, "Bob", "2222", "cashier", terminal_id=TERMINAL)
        boss = add_staff(session, "Max", "9999", "manager", terminal_id=TERMINAL)
    return People(ann, bob, boss)


#: Final paths a wallet payment takes (each step is a journaled state change).
WALLET_PATHS: list[tuple[S, ...]] = [
    (S.AWAITING_SCAN, S.PAID),
    (S.SUBMITTED, S.USER_PAYING, S.PAID),
    (S.SUBMITTED, S.UNKNOWN, S.PAID),
    (S.AWAITING_SCAN, S.CLOSED),
    (S.SUBMITTED, S.FAILED),
    (S.SUBMITTED, S.USER_PAYING, S.REVERSED),  # cancelled before the money moved: not a void
    (S.AWAITING_SCAN, S.PAID, S.REVERSED),  # same-day void of a paid wallet payment
]


@dataclass
class DayLog:
    """What the builder did (used only to pick targets; the expectations come from the events)."""

    paid: list[str] = field(default_factory=list)
    cash_paid: list[str] = field(default_factory=list)


def build_day(engine: Engine, people: People, *, sales: int = 150, seed: int = 7) -> DayLog:
    """A shift opened by Ann, ~``sales`` sales by Ann and Bob over the day's hours across cash,
    WeChat (native and micropay) and Alipay, some failing/closing/reversed, cash voids, cash and wallet
    refunds (some failing), pay-ins, pay-outs and a drop. The shift stays open."""
    rng = random.Random(seed)
    log = DayLog()
    at = START
    with session_scope(engine) as session:
        shifts.open_shift_counted(session, terminal_id=TERMINAL, by=people.ann, counts=FLOAT_COUNTS, at=at)
    for number in range(sales):
        at += timedelta(minutes=rng.randint(1, 6), seconds=rng.randint(0, 59))
        cashier = people.ann if number % 3 else people.bob
        kind = rng.random()
        lines = [LineIn(f"item {rng.randint(1, 40)}", rng.randint(100, 5000), rng.randint(1, 3))]
        amount = sum(line.amount_fen for line in lines)
        with session_scope(engine) as session:
            if kind < 0.35:
                sale = record_cash_sale(
                    session,
                    terminal_id=TERMINAL,
                    store_id=STORE,
                    cashier=cashier.name,
                    subject="Goods",
                    at=at,
                    lines=lines,
                    tendered_fen=amount + rng.choice([0, 50, 1000]),
                )
                log.cash_paid.append(sale.out_trade_no)
                continue
            channel = Channel.WECHAT if kind < 0.7 else Channel.ALIPAY
            path = rng.choice(WALLET_PATHS)
            mode = PaymentMode.NATIVE if path[0] == S.AWAITING_SCAN else PaymentMode.MICROPAY
            number_text = new_out_trade_no(session, store_id=STORE, terminal_id=TERMINAL, at=at)
            start_sale(
                session,
                terminal_id=TERMINAL,
                store_id=STORE,
                cashier=cashier.name,
                out_trade_no=number_text,
                channel=channel,
                mode=mode,
                subject="Goods",
                at=at,
                amount_fen=amount,
            )
        step_at = at
        for state in path:
            step_at += timedelta(seconds=5)
            txn = f"42{number:026d}" if state == S.PAID else None
            with session_scope(engine) as session:
                record_attempt_state(session, number_text, state, cashier=cashier.name, transaction_id=txn, at=step_at)
        if path[-1] == S.PAID:
            log.paid.append(number_text)
        # Now and then: a refund, a void, a drawer movement.
        roll = rng.random()
        with session_scope(engine) as session:
            if roll < 0.08 and log.cash_paid:
                target = log.cash_paid.pop(rng.randrange(len(log.cash_paid)))
                voidable = get_sale(session, target)
                if voidable is not None and voidable.state == S.PAID:
                    void_cash_sale(
                        session, target, cashier=cashier.name, approved_by="Max", at=step_at, reason="mistake"
                    )
            elif roll < 0.16 and log.cash_paid:
                target = log.cash_paid[rng.randrange(len(log.cash_paid))]
                sale_row = get_sale(session, target)
                assert sale_row is not None
                left = refundable_fen(session, sale_row)
                if left > 0:
                    record_refund(
                        session,
                        out_trade_no=target,
                        amount_fen=rng.randint(1, left),
                        cashier=cashier.name,
                        approved_by="Max",
                        at=step_at,
                        state=R.SUCCESS,
                    )
            elif roll < 0.26 and log.paid:
                target = log.paid[rng.randrange(len(log.paid))]
                sale_row = get_sale(session, target)
                assert sale_row is not None
                left = refundable_fen(session, sale_row)
                if left > 0:
                    refund = record_refund(
                        session,
                        out_trade_no=target,
                        amount_fen=rng.choice([left, max(1, left // 2)]),
                        cashier=cashier.name,
                        approved_by="Max",
                        at=step_at,
                    )
                    outcome = R.SUCCESS if rng.random() < 0.8 else R.FAILED
                    record_refund_state(
                        session, refund.out_refund_no, outcome, cashier=cashier.name, at=step_at + timedelta(seconds=3)
                    )
            elif roll < 0.30:
                shifts.cash_in(
                    session, terminal_id=TERMINAL, by=cashier, amount_fen=rng.randint(100, 2000), reason="change",
                    at=step_at,
                )  # fmt: skip
            elif roll < 0.33:
                shifts.cash_out(
                    session, terminal_id=TERMINAL, by=people.max, amount_fen=rng.randint(100, 1000),
                    reason="milk for the coffee", at=step_at, kind=rng.choice(["pay_out", "drop"]),
                )  # fmt: skip
        at = step_at
    return log


# --- the independent expectation ------------------------------------------------------------------


def events(engine: Engine) -> list[JournalEvent]:
    with session_scope(engine) as session:
        return list(session.exec(select(JournalEvent).order_by(col(JournalEvent.seq))).all())


def expected_figures(engine: Engine, day: str) -> dict[str, Any]:
    """The day's figures from the event log alone: the last snapshot of every sale, refund, shift and
    drawer movement as the events recorded them, summed in plain Python loops."""
    sales: dict[str, dict[str, Any]] = {}
    refunds: dict[str, dict[str, Any]] = {}
    refund_channel: dict[str, str] = {}
    movements: dict[int, dict[str, Any]] = {}
    shift_rows: dict[int, dict[str, Any]] = {}
    for event in events(engine):
        payload = event.payload
        if isinstance(payload.get("sale"), dict):
            sales[payload["sale"]["out_trade_no"]] = payload["sale"]
        if isinstance(payload.get("refund"), dict):
            refunds[payload["refund"]["out_refund_no"]] = payload["refund"]
            refund_channel[payload["refund"]["out_refund_no"]] = payload["sale"]["channel"]
        if isinstance(payload.get("cash_movement"), dict):
            movements[payload["cash_movement"]["movement_id"]] = payload["cash_movement"]
        if isinstance(payload.get("shift"), dict):
            shift_rows[payload["shift"]["shift_id"]] = payload["shift"]

    zero = {"sales_count": 0, "sales_fen": 0, "refunds_count": 0, "refunds_fen": 0, "voids_count": 0, "voids_fen": 0}
    channels: dict[str, dict[str, int]] = {c: dict(zero) for c in ("wechat", "alipay", "cash")}
    cashiers: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    total = dict(zero)
    hours: dict[str, dict[str, int]] = {}
    receipts: list[tuple[str, str]] = []
    for sale in sales.values():
        if sale["business_day"] != day:
            continue
        slices = (total, channels[sale["channel"]], cashiers[sale["cashier"]])
        if sale["state"] in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED"):
            for figures in slices:
                figures["sales_count"] += 1
                figures["sales_fen"] += sale["amount_fen"]
            hour = sale["created_at"][11:13]  # UTC text; the tests use offset 0
            bucket = hours.setdefault(hour, {"sales_count": 0, "sales_fen": 0})
            bucket["sales_count"] += 1
            bucket["sales_fen"] += sale["amount_fen"]
            receipts.append((sale["created_at"], sale["out_trade_no"]))
        elif sale["state"] == "REVERSED" and (sale["channel"] == "cash" or sale["transaction_id"]):
            for figures in slices:
                figures["voids_count"] += 1
                figures["voids_fen"] += sale["amount_fen"]
            receipts.append((sale["created_at"], sale["out_trade_no"]))
    for number, refund in refunds.items():
        if refund["state"] != "SUCCESS" or refund["created_at"][:10] != day or refund.get("kind") == "void":
            continue
        for figures in (total, channels[refund_channel[number]], cashiers[refund["cashier"]]):
            figures["refunds_count"] += 1
            figures["refunds_fen"] += refund["amount_fen"]
    for figures in [total, *channels.values(), *cashiers.values()]:
        figures["net_fen"] = figures["sales_fen"] - figures["refunds_fen"]
    receipts.sort()
    drawer: dict[int, int] = defaultdict(int)
    for movement in movements.values():
        drawer[movement["shift_id"]] += movement["amount_fen"]
    shift_list = [
        {
            "shift_id": shift_id,
            "expected_fen": drawer[shift_id],
            "counted_fen": row["counted_cash_fen"],
            "open": row["closed_at"] is None,
        }
        for shift_id, row in sorted(shift_rows.items())
        if row["opened_at"][:10] == day
    ]
    return {
        "total": total,
        "channels": channels,
        "cashiers": dict(sorted(cashiers.items())),
        "hours": dict(sorted(hours.items())),
        "first_receipt": receipts[0][1] if receipts else None,
        "last_receipt": receipts[-1][1] if receipts else None,
        "shifts": shift_list,
    }
