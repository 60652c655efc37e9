"""X and Z reports from the terminal journal: the X (any time, changes nothing) and the Z (day close:
numbered, immutable, one per terminal and business day, refused while a payment or refund is
unsettled). Their figures come from :mod:`pos_app.journal.figures`; a Z is stored with its hash
(:mod:`pos_app.journal.z_store`).

An X report of a closed day has the Z's figures, and lists apart the day's payments that settled
after the close (:mod:`pos_app.journal.late`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from pos_app.domain.chain import canonical_json
from pos_app.domain.staff import Action
from pos_app.journal.alerts import open_alerts
from pos_app.journal.clock import aware
from pos_app.journal.days import as_day, closed_days, get_z_report
from pos_app.journal.errors import JournalError
from pos_app.journal.events import append_event, next_seq
from pos_app.journal.figures import cash_summary, daily_totals, local_offset_minutes, open_refunds, unsettled_payments
from pos_app.journal.late import late_settlements
from pos_app.journal.models import Staff, ZReport
from pos_app.journal.shifts import authorise
from pos_app.journal.snapshots import Z_REPORT, z_report_snapshot
from pos_app.journal.z_store import content_hash


class DayClosedError(JournalError):
    """A second Z report for a day that is already closed."""


class UnsettledError(JournalError):
    """The day cannot be closed while a payment or a refund has no final outcome."""


def build_report(
    session: Session,
    day: date | str,
    *,
    kind: str,
    terminal_id: str,
    at: datetime,
    by: str,
    offset_minutes: int | None = None,
) -> dict[str, Any]:
    """The full content of an X or Z report (JSON values only). An X report of a closed day has the
    Z's figures, the Z's number as ``closed_by_z`` and the payments settled after the close as
    ``late_settlements``. Both list the terminal's money-surprise alerts still unacknowledged
    (``open_alerts``, see :mod:`pos_app.journal.alerts`)."""
    the_day = as_day(day)
    offset = local_offset_minutes(the_day) if offset_minutes is None else offset_minutes
    totals = daily_totals(session, the_day, terminal_id=terminal_id, offset_minutes=offset)
    content: dict[str, Any] = {
        "report": kind,
        "number": None,
        "generated_at": aware(at).astimezone(UTC).isoformat(timespec="seconds"),
        "generated_by": by,
        **totals.as_dict(),
        "unsettled_payments": unsettled_payments(session, the_day, terminal_id=terminal_id),
        "unsettled_refunds": open_refunds(session, terminal_id=terminal_id),
        "cash": cash_summary(session, the_day, terminal_id=terminal_id, offset_minutes=offset),
        "open_alerts": open_alerts(session, terminal_id),
    }
    content.update(closed_day_notes(session, the_day, terminal_id=terminal_id))
    return content


def closed_day_notes(session: Session, day: date | str, *, terminal_id: str | None) -> dict[str, Any]:
    """For a closed day: ``{"closed_by_z": number, "late_settlements": [...]}`` (see
    :func:`pos_app.journal.late.late_settlements`); for an open day, nothing."""
    the_day = as_day(day)
    reports = closed_days(session, terminal_id, the_day, the_day).get(the_day.isoformat(), [])
    if not reports:
        return {}
    return {
        "closed_by_z": [report.number for report in reports] if terminal_id is None else reports[0].number,
        "late_settlements": [row for report in reports for row in late_settlements(session, report)],
    }


def x_report(
    session: Session,
    day: date | str,
    *,
    terminal_id: str,
    by: Staff,
    at: datetime,
    offset_minutes: int | None = None,
) -> dict[str, Any]:
    """The X report: the day so far. Reads only — writes nothing, numbers nothing."""
    authorise(by, Action.X_REPORT)
    return build_report(
        session, day, kind="X", terminal_id=terminal_id, at=at, by=by.name, offset_minutes=offset_minutes
    )


def close_day(
    session: Session,
    day: date | str,
    *,
    terminal_id: str,
    by: Staff,
    at: datetime,
    offset_minutes: int | None = None,
) -> ZReport:
    """The Z report: closes the business day for this terminal (manager only), numbered 1, 2, 3...

    Refused when the day is already closed or while one of its payments (or any refund) has no final
    outcome. Stored with its full content and its SHA-256, and journaled as ``day.close``.
    """
    authorise(by, Action.Z_REPORT)
    the_day = as_day(day)
    existing = get_z_report(session, terminal_id, the_day)
    if existing is not None:
        raise DayClosedError(f"{the_day} is already closed on this terminal (Z report #{existing.number}).")
    content = build_report(
        session, the_day, kind="Z", terminal_id=terminal_id, at=at, by=by.name, offset_minutes=offset_minutes
    )
    waiting = len(content["unsettled_payments"]) + len(content["unsettled_refunds"])
    if waiting:
        raise UnsettledError(
            f"{waiting} payment(s) or refund(s) have no final outcome yet — settle them (Pending) before the day close."
        )
    number = next_seq(session, terminal_id, "z_report")
    content["number"] = number
    text = canonical_json(content)
    report = ZReport(
        terminal_id=terminal_id,
        number=number,
        business_day=the_day.isoformat(),
        content_json=text,
        content_hash=content_hash(text),
        closed_by=by.name,
        closed_at=aware(at),
    )
    session.add(report)
    session.flush()
    payload: dict[str, Any] = {
        "cashier": by.name,
        "business_day": report.business_day,
        "number": number,
        "net_fen": content["total"]["net_fen"],
        Z_REPORT: z_report_snapshot(report),
    }
    append_event(session, terminal_id, "day.close", payload, at)
    return report
