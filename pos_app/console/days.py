"""The Days page: per till and business day, the till's synced journal beside the engine's ledger,
limited to the viewer's stores.

The comparison is the engine's own (``pos_app.engine.sync_compare``: the same sums and the same
differences the tills are answered), but the ledger side is read for the day only — the payments
of that business day, and those the journal dates that day (a sale near midnight) — where the
engine's helper reads every payment the till ever took (seconds on a ledger of a million payments).
The journal side is still replayed whole: the synced events have no day column to select by.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.store.models import Payment
from pos_app.engine.store.synced_journal import held_seq
from pos_app.engine.store.terminals import Terminal
from pos_app.engine.sync_compare import SaleFigure, TerminalDayComparison, differences, journal_sales, sums


def _ledger_side(session: Session, terminal_id: str, day: str, also: list[str]) -> dict[str, SaleFigure]:
    same_day = col(Payment.business_day) == day
    rows = session.exec(
        select(Payment).where(
            col(Payment.terminal_id) == terminal_id,
            or_(same_day, col(Payment.out_trade_no).in_(also)) if also else same_day,
        )
    )
    return {
        p.out_trade_no: SaleFigure(
            out_trade_no=p.out_trade_no,
            channel=Channel(p.channel),
            amount_fen=p.amount_fen,
            state=PaymentState(p.state),
            refunded_fen=p.refunded_fen,
            business_day=p.business_day,
        )
        for p in rows
        if p.channel is not None  # a one-QR page no wallet opened moved no money (as engine.sync_compare)
    }


def compare_till_day(session: Session, terminal_id: str, day: date) -> TerminalDayComparison:
    """What ``sync_compare.compare_terminal_day`` answers, reading the ledger for this day only."""
    text = day.isoformat()
    journal_all = journal_sales(session, terminal_id)
    journal_day = [n for n, f in journal_all.items() if f.business_day == text]
    ledger = _ledger_side(session, terminal_id, text, journal_day)
    numbers = set(journal_day) | {n for n, f in ledger.items() if f.business_day == text}
    ours = {n: journal_all[n] for n in numbers if n in journal_all}
    theirs = {n: ledger[n] for n in numbers if n in ledger}
    return TerminalDayComparison(
        terminal_id=terminal_id,
        day=text,
        synced_seq=held_seq(session=session, terminal_id=terminal_id),
        terminal=sums(ours.values()),
        engine=sums(theirs.values()),
        differences=differences(ours, theirs),
    )


def till_days(engine: Engine, day: date, stores: tuple[str, ...] | None) -> list[tuple[str, TerminalDayComparison]]:
    """(store, comparison) for every till of the viewer's stores, by store then till."""
    with Session(engine) as session:
        query = select(Terminal.store_id, Terminal.terminal_id)
        if stores is not None:
            query = query.where(col(Terminal.store_id).in_(stores))
        tills = sorted(session.exec(query).all())
        return [(store_id, compare_till_day(session, terminal_id, day)) for store_id, terminal_id in tills]
