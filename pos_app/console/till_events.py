"""The Days page's second half: per till and business day, the Z reports the till closed and the
money-surprise alerts it raised, read from the journal events the till uploaded to the engine.

The till journals a Z as a ``day.close`` event (``pos_app.journal.reports.close_day``: its number,
business day, net and a ``z_report`` snapshot with who closed it and when) and an alert as an
``alert.raised`` event that a later ``alert.acknowledged`` event names by seq
(``pos_app.terminal.alerts``). Only those kinds are read, through the events' primary key prefix
(terminal_id): a till's journal holds thousands of sale events, a day a handful of these.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from pos_app.domain.china_time import china_day
from pos_app.engine.store.synced_journal import SyncedJournalEvent
from pos_app.i18n import N_

# The till's event kinds (pos_app.journal.reports, pos_app.journal.alerts), spelled here: the console
# reads the engine's copy of the events, never the till's journal package.
DAY_CLOSE, RAISED, ACKNOWLEDGED = "day.close", "alert.raised", "alert.acknowledged"
#: A shift closed with its cash counted: its ``shift`` snapshot holds expected and counted cash.
SHIFT_CLOSED = "shift.closed"

#: An alert's kind, in words (pos_app.terminal.alerts.AlertKind values).
ALERT_WORDS = {
    "paid_after_cancel": N_("paid after the cashier cancelled"),
    "paid_unseen": N_("paid while the screen did not show it"),
    "refund_failed": N_("refund failed"),
}
#: What the cashier saw, in words (pos_app.terminal.alerts.SAW_WORDS keys).
SAW_WORDS = {
    "cancelled": N_("cancelled"),
    "unknown": N_("result not known"),
    "refund_pending": N_("refund on its way"),
}

#: How a cashier dealt with an alert, in words (pos_app.terminal.alerts.AckAction values).
ACTION_WORDS = {
    "handed_over": N_("goods handed over"),
    "refunded": N_("refunded"),
    "acknowledged": N_("acknowledged"),
}


@dataclass(frozen=True, slots=True)
class ZShown:
    """One Z report as its ``day.close`` event tells it. That payload holds the net but no sales
    count (None until a till sends ``sales_count``) and no cash: the cash is the sums of the till's
    shifts opened that day (China time) and closed with a count — the shifts the Z's own cash
    section covers (``pos_app.journal.figures.cash_summary``); None when no such shift was uploaded."""

    number: int
    closed_at: datetime
    closed_by: str
    net_fen: int | None
    sales: int | None
    cash_expected_fen: int | None
    cash_counted_fen: int | None


@dataclass(frozen=True, slots=True)
class AlertShown:
    seq: int
    kind: str
    out_trade_no: str
    amount_fen: int
    saw: str
    became: str
    at: datetime
    out_refund_no: str | None
    #: How a cashier dealt with it (``handed_over``, ``refunded``, ``acknowledged``), None while open.
    acknowledged: str | None
    acknowledged_by: str | None


@dataclass(frozen=True, slots=True)
class TillDayEvents:
    z_reports: list[ZShown]
    alerts: list[AlertShown]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _aware(at: datetime) -> datetime:
    """The ledger stores UTC without an offset (engine.store.utc_columns)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _part(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _z_of(payload: dict[str, Any], at: datetime, shifts_cash: tuple[int, int] | None) -> ZShown:
    snapshot = _part(payload, "z_report")
    closed_at = at
    if isinstance(snapshot.get("closed_at"), str):
        try:
            closed_at = _aware(datetime.fromisoformat(snapshot["closed_at"]))
        except ValueError:
            closed_at = at
    return ZShown(
        number=int(payload.get("number") or 0),
        closed_at=closed_at,
        closed_by=str(snapshot.get("closed_by") or payload.get("cashier") or ""),
        net_fen=_int_or_none(payload.get("net_fen")),
        sales=_int_or_none(payload.get("sales_count")),
        cash_expected_fen=None if shifts_cash is None else shifts_cash[0],
        cash_counted_fen=None if shifts_cash is None else shifts_cash[1],
    )


def _shift_of_day(payload: dict[str, Any], day: date) -> tuple[int, int, int] | None:
    """(shift id, expected, counted) of a closed shift opened on ``day`` (China time), else None."""
    shift = _part(payload, "shift")
    expected, counted = _int_or_none(shift.get("expected_cash_fen")), _int_or_none(shift.get("counted_cash_fen"))
    opened, shift_id = shift.get("opened_at"), _int_or_none(shift.get("shift_id"))
    if expected is None or counted is None or shift_id is None or not isinstance(opened, str):
        return None
    try:
        opened_day = china_day(_aware(datetime.fromisoformat(opened)))
    except ValueError:
        return None
    return (shift_id, expected, counted) if opened_day == day else None


def events_of_day(rows: Iterable[tuple[int, str, str, datetime]], day: date) -> TillDayEvents:
    """From a till's (seq, kind, payload_json, at) rows in seq order: the Z reports of ``day`` and the
    alerts raised on ``day`` (China time), each with its acknowledgement whenever it came."""
    text = day.isoformat()
    closes: list[tuple[dict[str, Any], datetime]] = []
    shifts: dict[int, tuple[int, int]] = {}
    raised: dict[int, AlertShown] = {}
    answers: dict[int, tuple[str, str]] = {}
    for seq, kind, payload_json, stored_at in rows:
        payload = json.loads(payload_json)
        if not isinstance(payload, dict):
            continue
        at = _aware(stored_at)
        if kind == DAY_CLOSE and payload.get("business_day") == text:
            closes.append((payload, at))
        elif kind == SHIFT_CLOSED and (shift := _shift_of_day(payload, day)) is not None:
            shifts[shift[0]] = shift[1:]
        elif kind == RAISED and china_day(at) == day:
            refund = payload.get("out_refund_no")
            raised[seq] = AlertShown(
                seq=seq,
                kind=str(payload.get("alert", "")),
                out_trade_no=str(payload.get("out_trade_no", "")),
                amount_fen=int(payload.get("amount_fen") or 0),
                saw=str(payload.get("saw", "")),
                became=str(payload.get("became", "")),
                at=at,
                out_refund_no=refund if isinstance(refund, str) else None,
                acknowledged=None,
                acknowledged_by=None,
            )
        elif kind == ACKNOWLEDGED and isinstance(payload.get("alert"), int):
            answers[payload["alert"]] = (str(payload.get("action") or "acknowledged"), str(payload.get("cashier", "")))
    alerts = [
        replace(a, acknowledged=answers[a.seq][0], acknowledged_by=answers[a.seq][1]) if a.seq in answers else a
        for a in raised.values()
    ]
    shifts_cash = (sum(e for e, _ in shifts.values()), sum(c for _, c in shifts.values())) if shifts else None
    return TillDayEvents(z_reports=[_z_of(p, at, shifts_cash) for p, at in closes], alerts=alerts)


def till_day_events(engine: Engine, terminal_ids: Iterable[str], day: date) -> dict[str, TillDayEvents]:
    """For each of these tills (the caller's, already limited to the viewer's stores): its Z reports
    and alerts of ``day``."""
    ids = sorted(set(terminal_ids))
    found: dict[str, list[tuple[int, str, str, datetime]]] = {t: [] for t in ids}
    if ids:
        with Session(engine) as session:
            rows = session.exec(
                select(SyncedJournalEvent)
                .where(
                    col(SyncedJournalEvent.terminal_id).in_(ids),
                    col(SyncedJournalEvent.kind).in_((DAY_CLOSE, RAISED, ACKNOWLEDGED, SHIFT_CLOSED)),
                )
                .order_by(col(SyncedJournalEvent.terminal_id), col(SyncedJournalEvent.seq))
            )
            for e in rows:
                found[e.terminal_id].append((e.seq, e.kind, e.payload_json, e.at))
    return {t: events_of_day(found[t], day) for t in ids}
