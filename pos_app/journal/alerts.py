"""Money-surprise alerts as the journal holds them: ``alert.raised`` events that no
``alert.acknowledged`` event has answered yet (the till raises and acknowledges them, see
:mod:`pos_app.terminal.alerts`; the X and Z reports list the open ones)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from pos_app.journal.models import JournalEvent

RAISED = "alert.raised"
ACKNOWLEDGED = "alert.acknowledged"


def open_alerts(session: Session, terminal_id: str) -> list[dict[str, Any]]:
    """The terminal's unacknowledged alerts, oldest first, as JSON values: ``id`` (the seq of the
    raising event, what an acknowledgement names), ``alert`` (its kind), ``out_trade_no``,
    ``amount_fen``, ``saw``, ``became``, ``at`` (ISO text) and ``out_refund_no`` when a refund is
    concerned."""
    statement = (
        select(JournalEvent)
        .where(JournalEvent.terminal_id == terminal_id)
        .where(col(JournalEvent.kind).in_((RAISED, ACKNOWLEDGED)))
        .order_by(col(JournalEvent.seq))
    )
    raised: dict[int, dict[str, Any]] = {}
    for event in session.exec(statement).all():
        payload = event.payload
        if event.kind == ACKNOWLEDGED:
            raised.pop(int(payload["alert"]), None)
            continue
        row: dict[str, Any] = {
            "id": event.seq,
            "alert": str(payload["alert"]),
            "out_trade_no": str(payload["out_trade_no"]),
            "amount_fen": int(payload["amount_fen"]),
            "saw": str(payload["saw"]),
            "became": str(payload["became"]),
            "at": event.at_text,
        }
        if isinstance(payload.get("out_refund_no"), str):
            row["out_refund_no"] = payload["out_refund_no"]
        raised[event.seq] = row
    return list(raised.values())
