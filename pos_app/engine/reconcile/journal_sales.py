"""The wallet and cash sales of a day as the terminals last journaled them (from their synced journals)."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

from sqlalchemy import Engine, inspect, select

from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.inputs import JournalSale
from pos_app.engine.reconcile.ledger_day import day_bounds
from pos_app.engine.store.db import reader
from pos_app.engine.store.synced_journal import SyncedJournalEvent

log = logging.getLogger(__name__)


def has_journals(engine: Engine) -> bool:
    """True once any terminal has synced its journal: only then are journals compared."""
    if not inspect(engine).has_table(SyncedJournalEvent.__tablename__):
        return False  # no terminal registry on this database yet
    with reader(engine).connect() as conn:
        return conn.execute(select(SyncedJournalEvent.__table__.c.seq).limit(1)).first() is not None  # type: ignore[attr-defined]


def load_journal_sales(engine: Engine, day: date) -> dict[str, JournalSale]:
    """The last state each terminal journaled for its wallet and cash sales of ``day``.

    Every sale-changing event carries a ``sale`` snapshot (pos_app.journal.snapshots); the latest
    one per out_trade_no, in (terminal, seq) order, is what the terminal last knew.
    """
    start, end = day_bounds(day)
    t = SyncedJournalEvent.__table__.c  # type: ignore[attr-defined]
    stmt = (
        select(t.terminal_id, t.payload_json)
        .where(t.at >= start - timedelta(days=1), t.at < end + timedelta(days=1))
        .order_by(t.terminal_id, t.seq)
    )
    sales: dict[str, JournalSale] = {}
    wanted = day.isoformat()
    with reader(engine).connect() as conn:
        for terminal_id, payload_json in conn.execute(stmt):
            try:
                sale = json.loads(payload_json).get("sale")
            except ValueError:
                continue
            if not isinstance(sale, dict) or sale.get("business_day") != wanted:
                continue
            try:
                channel = Channel(str(sale["channel"]))
                sales[str(sale["out_trade_no"])] = JournalSale(
                    str(sale["out_trade_no"]),
                    str(sale.get("terminal_id") or terminal_id),
                    channel,
                    int(sale["amount_fen"]),
                    str(sale["state"]),
                )
            except (KeyError, ValueError, TypeError):
                log.warning("journal event of terminal %s has an unreadable sale snapshot", terminal_id)
    return sales
