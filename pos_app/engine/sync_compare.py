"""Per terminal and day: the totals of the synced terminal journal beside the engine's own ledger.

Both live in the engine's database: the journal events a terminal uploaded (``terminal_journal_events``,
each carrying a full snapshot of its sale) and the engine's ``payments``. Replaying a terminal's
events in seq order gives the terminal's last word on every sale; wallet sales are then matched with
the engine's payments by ``out_trade_no``. A difference is flagged, never corrected here:

- ``terminal_only``: the terminal journaled money in for a payment the engine never saw;
- ``engine_only``: the engine took money for a payment missing from the synced journal (perhaps not
  synced yet: ``synced_seq`` says how far the upload got);
- ``state`` / ``amount`` / ``refunded``: both saw it and disagree.

Cash sales never reach the engine's ledger: they are totalled on the terminal side only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel
from sqlmodel import Session, col, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import MONEY_IN_STATES, PaymentState
from pos_app.engine.store.models import Payment
from pos_app.engine.store.synced_journal import SyncedJournalEvent, held_seq
from pos_app.engine.store.terminals import Terminal

#: States in which a payment has taken the customer's money (some of it may have been refunded).
COLLECTED_STATES = frozenset(MONEY_IN_STATES | {PaymentState.REFUNDED})

DifferenceKind = Literal["terminal_only", "engine_only", "state", "amount", "refunded"]


class SaleFigure(BaseModel):
    out_trade_no: str
    channel: Channel
    amount_fen: int
    state: PaymentState
    refunded_fen: int
    business_day: str

    @property
    def collected_fen(self) -> int:
        return self.amount_fen if self.state in COLLECTED_STATES else 0

    @property
    def net_fen(self) -> int:
        return self.collected_fen - self.refunded_fen if self.state in COLLECTED_STATES else 0


class ChannelSums(BaseModel):
    channel: Channel
    count: int = 0  # sales that took money
    collected_fen: int = 0
    refunded_fen: int = 0
    net_fen: int = 0


class Difference(BaseModel):
    out_trade_no: str
    kind: DifferenceKind
    message: str
    terminal: SaleFigure | None = None
    engine: SaleFigure | None = None


class TerminalDayComparison(BaseModel):
    terminal_id: str
    day: str
    synced_seq: int  # the journal is compared as uploaded up to this event
    terminal: list[ChannelSums]  # from the synced journal (cash included)
    engine: list[ChannelSums]  # from the engine ledger (wallet channels only)
    differences: list[Difference]

    @property
    def agrees(self) -> bool:
        return not self.differences


# --- reading both sides ------------------------------------------------------------------------


def _figure_from_snapshot(snapshot: dict[str, Any]) -> SaleFigure:
    return SaleFigure(
        out_trade_no=str(snapshot["out_trade_no"]),
        channel=Channel(snapshot["channel"]),
        amount_fen=int(snapshot["amount_fen"]),
        state=PaymentState(snapshot["state"]),
        refunded_fen=int(snapshot.get("refunded_fen") or 0),
        business_day=str(snapshot.get("business_day") or ""),
    )


def journal_sales(session: Session, terminal_id: str) -> dict[str, SaleFigure]:
    """Every sale of the terminal as its synced journal last described it (events replayed in seq order)."""
    rows = session.exec(
        select(SyncedJournalEvent.payload_json)
        .where(SyncedJournalEvent.terminal_id == terminal_id)
        .order_by(col(SyncedJournalEvent.seq))
    )
    sales: dict[str, SaleFigure] = {}
    for payload_json in rows:
        payload = json.loads(payload_json)
        snapshot = payload.get("sale") if isinstance(payload, dict) else None
        if isinstance(snapshot, dict) and snapshot.get("out_trade_no"):
            figure = _figure_from_snapshot(snapshot)
            sales[figure.out_trade_no] = figure
    return sales


def _figure_from_payment(payment: Payment) -> SaleFigure:
    return SaleFigure(
        out_trade_no=payment.out_trade_no,
        channel=Channel(payment.channel or ""),
        amount_fen=payment.amount_fen,
        state=PaymentState(payment.state),
        refunded_fen=payment.refunded_fen,
        business_day=payment.business_day,
    )


def engine_payments(session: Session, terminal_id: str) -> dict[str, SaleFigure]:
    rows = session.exec(select(Payment).where(Payment.terminal_id == terminal_id))
    # A one-QR page no wallet opened has no channel and moved no money: not a sale to compare.
    return {p.out_trade_no: _figure_from_payment(p) for p in rows if p.channel is not None}


# --- comparing ---------------------------------------------------------------------------------


def sums(figures: Iterable[SaleFigure]) -> list[ChannelSums]:
    by_channel: dict[Channel, ChannelSums] = {}
    for figure in figures:
        row = by_channel.setdefault(figure.channel, ChannelSums(channel=figure.channel))
        if figure.state in COLLECTED_STATES:
            row.count += 1
            row.collected_fen += figure.collected_fen
            row.refunded_fen += figure.refunded_fen
            row.net_fen += figure.net_fen
    return [by_channel[c] for c in sorted(by_channel, key=lambda c: c.value)]


def _same_void(terminal: SaleFigure, engine: SaleFigure) -> bool:
    """A same-day void the gateway paid back by one full refund (``void_kind = refunded``): the till
    journals it as REVERSED (a void, terminal/voids.py), the engine holds it REFUNDED in full. Same
    outcome — the customer has the money back — so not a difference."""
    return (
        terminal.state is PaymentState.REVERSED
        and engine.state is PaymentState.REFUNDED
        and terminal.amount_fen == engine.amount_fen == engine.refunded_fen
    )


def differences(terminal: dict[str, SaleFigure], engine: dict[str, SaleFigure]) -> list[Difference]:
    """The wallet sales on which the two sides disagree (cash is the terminal's alone)."""
    found: list[Difference] = []
    wallet = {n for n, f in terminal.items() if f.channel is not Channel.CASH} | set(engine)
    for number in sorted(wallet):
        ours, theirs = terminal.get(number), engine.get(number)
        if theirs is None:
            if ours is not None and ours.collected_fen:
                found.append(
                    Difference(
                        out_trade_no=number,
                        kind="terminal_only",
                        message=f"The terminal journaled {number} as {ours.state.value}; the engine never saw it.",
                        terminal=ours,
                    )
                )
            continue
        if ours is None:
            if theirs.collected_fen:
                found.append(
                    Difference(
                        out_trade_no=number,
                        kind="engine_only",
                        message=f"The engine holds {number} as {theirs.state.value}; the synced journal does not.",
                        engine=theirs,
                    )
                )
            continue
        if _same_void(ours, theirs):
            continue
        kind: DifferenceKind | None = None
        if (ours.state in COLLECTED_STATES) != (theirs.state in COLLECTED_STATES):
            kind = "state"
        elif ours.amount_fen != theirs.amount_fen:
            kind = "amount"
        elif ours.refunded_fen != theirs.refunded_fen:
            kind = "refunded"
        if kind is not None:
            found.append(
                Difference(
                    out_trade_no=number,
                    kind=kind,
                    message=(
                        f"{number}: terminal {ours.state.value} {ours.amount_fen} fen (refunded "
                        f"{ours.refunded_fen}), engine {theirs.state.value} {theirs.amount_fen} fen "
                        f"(refunded {theirs.refunded_fen})."
                    ),
                    terminal=ours,
                    engine=theirs,
                )
            )
    return found


def compare_terminal_day(session: Session, terminal_id: str, day: date) -> TerminalDayComparison:
    """The terminal's synced journal and the engine's ledger for one business day.

    A sale belongs to the day by either side's business day (the terminal dates sales in its own
    time zone, the engine in the business time zone): a sale near midnight is still matched.
    """
    text = day.isoformat()
    journal_all = journal_sales(session, terminal_id)
    engine_all = engine_payments(session, terminal_id)
    numbers = {n for n, f in journal_all.items() if f.business_day == text}
    numbers |= {n for n, f in engine_all.items() if f.business_day == text}
    ours = {n: journal_all[n] for n in numbers if n in journal_all}
    theirs = {n: engine_all[n] for n in numbers if n in engine_all}
    return TerminalDayComparison(
        terminal_id=terminal_id,
        day=text,
        synced_seq=held_seq(session=session, terminal_id=terminal_id),
        terminal=sums(ours.values()),
        engine=sums(theirs.values()),
        differences=differences(ours, theirs),
    )


def compare_day(session: Session, day: date, terminal_ids: Sequence[str] | None = None) -> list[TerminalDayComparison]:
    """Every terminal given (default: every activated terminal), one comparison each."""
    ids = list(terminal_ids) if terminal_ids is not None else list(session.exec(select(Terminal.terminal_id)))
    return [compare_terminal_day(session, terminal_id, day) for terminal_id in sorted(ids)]


def store_terminals(session: Session, store_id: str) -> list[str]:
    return list(session.exec(select(Terminal.terminal_id).where(Terminal.store_id == store_id)))


__all__ = [
    "ChannelSums",
    "Difference",
    "SaleFigure",
    "TerminalDayComparison",
    "compare_day",
    "compare_terminal_day",
    "differences",
    "engine_payments",
    "journal_sales",
    "store_terminals",
    "sums",
]
