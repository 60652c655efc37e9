"""The Days page: per till and business day, the till's synced journal beside the engine's ledger
(``pos_app.engine.sync_compare``, the same comparison the engine's report serves the tills), limited
to the viewer's stores."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from pos_app.engine.store.terminals import Terminal
from pos_app.engine.sync_compare import TerminalDayComparison, compare_day


def till_days(engine: Engine, day: date, stores: tuple[str, ...] | None) -> list[tuple[str, TerminalDayComparison]]:
    """(store, comparison) for every till of the viewer's stores, by store then till."""
    with Session(engine) as session:
        query = select(Terminal.store_id, Terminal.terminal_id)
        if stores is not None:
            query = query.where(col(Terminal.store_id).in_(stores))
        tills = sorted(session.exec(query).all())
        store_of = {terminal_id: store_id for store_id, terminal_id in tills}
        compared = compare_day(session, day, [terminal_id for _, terminal_id in tills])
    return sorted(((store_of[c.terminal_id], c) for c in compared), key=lambda pair: (pair[0], pair[1].terminal_id))
