"""Late settlements: payments of a closed day whose state changed after the day's Z report.

A Z report freezes its day's figures, but the gateway may still settle one of the day's payments
afterwards (a wallet void that completes later, a QR paid after the cashier gave up on it). Such a
change never alters the Z: it is listed beside it, found from the ``payment.state`` events of the
day's sales that the journal recorded after the close.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.journal.models import ZReport
from pos_app.journal.payloads import load_payload

# The day's sales' events are found through their ref index (the sale's out_trade_no); "after the Z"
# is by the chain's order (seq), which never ties, unlike two events written in the same microsecond.
_LATE_SQL = """
SELECT s.out_trade_no, s.channel, s.state, s.amount_fen, s.cashier, e.at_text, e.payload_json
FROM sales AS s JOIN events AS e ON e.ref = s.out_trade_no AND e.terminal_id = s.terminal_id
WHERE s.business_day = :day AND s.terminal_id = :terminal AND e.kind = 'payment.state'
  AND e.seq > (SELECT c.seq FROM events AS c
               WHERE c.terminal_id = :terminal AND c.kind = 'day.close'
                 AND json_extract(c.payload_json, '$.number') = :number)
ORDER BY e.seq
"""


def late_settlements(session: Session, report: ZReport) -> list[dict[str, Any]]:
    """The closed day's payments that changed state after its Z, one row per sale, in the order of
    their first late change: order number, channel, amount, the state the Z saw (``state_at_close``),
    the state now, when it last changed (``at``, UTC ISO text) and who recorded it."""
    params = {"day": report.business_day, "terminal": report.terminal_id, "number": report.number}
    rows: dict[str, dict[str, Any]] = {}
    for number, channel, state, amount, cashier, at, payload_json in session.connection().exec_driver_sql(
        _LATE_SQL, params
    ):
        payload = load_payload(payload_json)
        row = rows.setdefault(
            number,
            {
                "out_trade_no": number,
                "channel": Channel[channel].value,
                "amount_fen": int(amount),
                "state_at_close": payload["from"],
                "state": PaymentState[state].value,
                "cashier": cashier,
            },
        )
        row["at"] = at
        row["recorded_by"] = payload["cashier"]
    return list(rows.values())
