"""Z reports and money-surprise alerts made by the tills' real journal (a cash sale, ``alert.raised`` /
``alert.acknowledged`` events with the payload ``pos_app.terminal.alerts`` writes, a day close by
``pos_app.journal.reports.close_day``), uploaded to the engine's ledger as a sync batch is
(``store_journal_events``: the hash chain re-checked)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from pos_app.config import Settings
from pos_app.engine.store import open_ledger
from pos_app.engine.store.synced_journal import IncomingEvent, store_journal_events
from pos_app.journal import (
    JournalEvent,
    add_staff,
    append_event,
    close_shift,
    open_journal,
    open_shift,
    record_cash_sale,
    session_scope,
)
from pos_app.journal.payloads import load_payload
from pos_app.journal.reports import close_day
from tests.console.support import DAY, OTHER_DAY, STORE_A, STORE_B

#: Each till's opening float, and how much short its drawer is counted at the shift's close.
FLOAT_FEN, SHORT_FEN = 10000, 100


def _china(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00")


@dataclass(frozen=True)
class TillStory:
    """What one till journaled on DAY (and one alert the day before)."""

    terminal_id: str
    cash_fen: int
    z_number: int
    #: (out_trade_no, acknowledged) of DAY's alerts, in the order raised.
    alerts: list[tuple[str, bool]]
    earlier_alert: str


def _raise(session: Session, till: str, kind: str, order: str, amount: int, saw: str, became: str, at: datetime) -> int:
    payload: dict[str, object] = {"out_trade_no": order, "cashier": "Ann", "alert": kind, "saw": saw,
                                  "became": became, "amount_fen": amount}  # fmt: skip
    if kind == "refund_failed":
        payload["out_refund_no"] = f"R{order[1:]}"
    return append_event(session, till, "alert.raised", payload, at).seq


def journal_a_till(folder: Path, till: str, store: str, cash_fen: int) -> tuple[list[JournalEvent], TillStory]:
    engine = open_journal(folder / f"{till}.sqlite3")
    prefix = f"P20261205{store}{till}"
    with session_scope(engine) as session:
        boss = add_staff(session, "Max", "9999", "manager", terminal_id=till)
        _raise(session, till, "paid_unseen", f"{prefix}EARLY1", 300, "unknown", "PAID", _china(OTHER_DAY, 20))
        open_shift(session, terminal_id=till, cashier="Ann", float_fen=FLOAT_FEN, at=_china(DAY, 9))
        record_cash_sale(session, terminal_id=till, store_id=store, cashier="Ann", subject="Tea",
                         at=_china(DAY, 10), amount_fen=cash_fen)  # fmt: skip
        seen = _raise(session, till, "paid_after_cancel", f"{prefix}A1", 1250, "cancelled", "PAID", _china(DAY, 11))
        _raise(session, till, "refund_failed", f"{prefix}A2", 800, "refund_pending", "FAILED", _china(DAY, 12))
        append_event(session, till, "alert.acknowledged", {"out_trade_no": f"{prefix}A1", "cashier": "Max",
                     "alert": seen, "action": "handed_over"}, _china(DAY, 13))  # fmt: skip
        close_shift(session, terminal_id=till, cashier="Ann", counted_fen=FLOAT_FEN + cash_fen - SHORT_FEN,
                    at=_china(DAY, 21))  # fmt: skip
        report = close_day(session, DAY, terminal_id=till, by=boss, at=_china(DAY, 22))
        z_number = report.number
    with session_scope(engine) as session:
        events = list(session.exec(select(JournalEvent).order_by(col(JournalEvent.seq))).all())
    engine.dispose()
    story = TillStory(till, cash_fen, z_number, [(f"{prefix}A1", True), (f"{prefix}A2", False)], f"{prefix}EARLY1")
    return events, story


def upload_till_journals(settings: Settings, folder: Path) -> dict[str, TillStory]:
    """Till T002 (store A) and U001 (store B) journal a day with a Z and alerts; the engine holds them."""
    ledger = open_ledger(settings.database_url)
    stories: dict[str, TillStory] = {}
    for till, store, cash in (("T002", STORE_A, 1500), ("U001", STORE_B, 2700)):
        events, story = journal_a_till(folder, till, store, cash)
        batch = [
            IncomingEvent(seq=e.seq, kind=e.kind, payload=load_payload(e.payload_json),
                          at=datetime.fromisoformat(e.at_text), prev_hash=e.prev_hash, hash=e.hash)
            for e in events
        ]  # fmt: skip
        with Session(ledger) as session:
            assert store_journal_events(session=session, terminal_id=till, events=batch) == len(batch)
            session.commit()
        stories[till] = story
    ledger.dispose()
    return stories
