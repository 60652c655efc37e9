"""Money-surprise alerts as the journal holds them: ``alert.raised`` events that no
``alert.acknowledged`` event has answered yet (the till raises and acknowledges them, see
:mod:`pos_app.terminal.alerts`; the X and Z reports list the open ones)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from pos_app.journal.payloads import load_payload

RAISED = "alert.raised"
ACKNOWLEDGED = "alert.acknowledged"

# Through the index of migration 0005 by name: without statistics SQLite prefers the primary key (for
# its order by seq) and reads every event of the terminal.
_ALERT_EVENTS_SQL = f"""
SELECT e.seq, e.kind, e.payload_json, e.at_text FROM events AS e INDEXED BY ix_events_kind
WHERE e.terminal_id = :terminal AND e.kind IN ('{RAISED}', '{ACKNOWLEDGED}')
ORDER BY e.seq
"""


def open_alerts(session: Session, terminal_id: str) -> list[dict[str, Any]]:
    """The terminal's unacknowledged alerts, oldest first, as JSON values: ``id`` (the seq of the
    raising event, what an acknowledgement names), ``alert`` (its kind), ``out_trade_no``,
    ``amount_fen``, ``saw``, ``became``, ``at`` (ISO text) and ``out_refund_no`` when a refund is
    concerned."""
    rows = session.connection().exec_driver_sql(_ALERT_EVENTS_SQL, {"terminal": terminal_id}).all()
    raised: dict[int, dict[str, Any]] = {}
    for seq, kind, payload_json, at_text in rows:
        payload = load_payload(payload_json)
        if kind == ACKNOWLEDGED:
            raised.pop(int(payload["alert"]), None)
            continue
        row: dict[str, Any] = {
            "id": seq,
            "alert": str(payload["alert"]),
            "out_trade_no": str(payload["out_trade_no"]),
            "amount_fen": int(payload["amount_fen"]),
            "saw": str(payload["saw"]),
            "became": str(payload["became"]),
            "at": at_text,
        }
        if isinstance(payload.get("out_refund_no"), str):
            row["out_refund_no"] = payload["out_refund_no"]
        raised[seq] = row
    return list(raised.values())
