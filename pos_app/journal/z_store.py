"""Z reports as stored: each one's content read back only while it matches its SHA-256, and the list
of a terminal's Z reports."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from pos_app.journal.days import get_z_report
from pos_app.journal.errors import JournalError
from pos_app.journal.models import ZReport
from pos_app.journal.payloads import load_payload


def content_hash(content_json: str) -> str:
    return hashlib.sha256(content_json.encode("utf-8")).hexdigest()


def stored_z(session: Session, day: date, terminal_id: str | None) -> dict[str, Any] | None:
    """The content of the Z report that closed ``day`` on this terminal, or None while it is open."""
    if terminal_id is None:
        return None
    report = get_z_report(session, terminal_id, day)
    return None if report is None else z_content(report)


def z_content(report: ZReport) -> dict[str, Any]:
    """The stored content of a Z report, refused if it no longer matches its hash (edited by hand)."""
    if content_hash(report.content_json) != report.content_hash:
        raise JournalError(
            f"Z report #{report.number} ({report.business_day}) does not match its hash — it was edited;"
            " run `pos journal verify`."
        )
    return load_payload(report.content_json)


def list_z_reports(session: Session, terminal_id: str | None = None) -> list[ZReport]:
    statement = select(ZReport)
    if terminal_id is not None:
        statement = statement.where(ZReport.terminal_id == terminal_id)
    return list(session.exec(statement.order_by(col(ZReport.terminal_id), col(ZReport.number))).all())
