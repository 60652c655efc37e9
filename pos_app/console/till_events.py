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
    """One Z report as its ``day.close`` event tells it. Count and cash are None when the event does
    not carry them (the till's day-close payload holds the net only)."""

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


def _z_of(payload: dict[str, Any], at: datetime) -> ZShown:
    snapshot = _part(payload, "z_report")
    closed_at = at
    if isinstance(snapshot.get("closed_at"), str):
        try:
            closed_at = _aware(datetime.fromisoformat(snapshot["closed_at"]))
        except ValueError:
            closed_at = at
    total, cash = _part(payload, "total"), _part(payload, "cash")
    return ZShown(
        number=int(payload.get("number") or 0),
        closed_at=closed_at,
        closed_by=str(snapshot.get("closed_by") or payload.get("cashier") or ""),
        net_fen=_int_or_none(payload.get("net_fen")),
        sales=_int_or_none(payload.get("sales_count", total.get("count"))),
        cash_expected_fen=_int_or_none(payload.get("cash_expected_fen", cash.get("expected_fen"))),
        cash_counted_fen=_int_or_none(payload.get("cash_counted_fen", cash.get("counted_fen"))),
    )


def events_of_day(rows: Iterable[tuple[int, str, str, datetime]], day: date) -> TillDayEvents:
    """From a till's (seq, kind, payload_json, at) rows in seq order: the Z reports of ``day`` and the
    alerts raised on ``day`` (China time), each with its acknowledgement whenever it came."""
    text = day.isoformat()
    z_reports: list[ZShown] = []
    raised: dict[int, AlertShown] = {}
    answers: dict[int, tuple[str, str]] = {}
    for seq, kind, payload_json, stored_at in rows:
        payload = json.loads(payload_json)
        if not isinstance(payload, dict):
            continue
        at = _aware(stored_at)
        if kind == DAY_CLOSE and payload.get("business_day") == text:
            z_reports.append(_z_of(payload, at))
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
    return TillDayEvents(z_reports=z_reports, alerts=alerts)


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
                    col(SyncedJournalEvent.kind).in_((DAY_CLOSE, RAISED, ACKNOWLEDGED)),
                )
                .order_by(col(SyncedJournalEvent.terminal_id), col(SyncedJournalEvent.seq))
            )
            for e in rows:
                found[e.terminal_id].append((e.seq, e.kind, e.payload_json, e.at))
    return {t: events_of_day(found[t], day) for t in ids}
