"""A refund of one of this till's sales made elsewhere (the manager console, through the engine),
heard of on the event stream — live, or replayed after the link was down: journal it once.

Only a refund of a sale in this till's journal is taken in; the same refund heard twice is one row
(the out_refund_no is unique, and a second hearing only moves its state forward).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from pos_app import journal
from pos_app.api.schemas import RefundView
from pos_app.domain.states import RefundState
from pos_app.journal.refunds_elsewhere import can_record_elsewhere, record_refund_elsewhere

log = logging.getLogger(__name__)

#: Who made a refund the engine did not name (an engine from before RefundView carried it).
UNNAMED_OPERATOR = "elsewhere"


def journal_refund_made_elsewhere(session: Session, view: RefundView, *, terminal_id: str, at: datetime) -> bool:
    """Write the refund ``view`` of one of our sales that the journal does not hold, then its state.
    False when it is not ours, already journaled, or does not fit the sale (logged, nothing written).
    """
    sale = journal.get_sale(session, view.out_trade_no)
    if sale is None or sale.terminal_id != terminal_id:
        return False
    if not can_record_elsewhere(session, sale, view.out_refund_no, view.amount_fen):
        if journal.get_refund(session, view.out_refund_no) is None:
            log.warning(
                "refund %s of %s made elsewhere does not fit the journal's sale (%s): not journaled",
                view.out_refund_no,
                view.out_trade_no,
                sale.state,
            )
        return False
    operator = view.operator or UNNAMED_OPERATOR
    record_refund_elsewhere(
        session,
        sale,
        out_refund_no=view.out_refund_no,
        amount_fen=view.amount_fen,
        operator=operator,
        approved_by=view.approved_by or "",
        reason="",
        at=view.created_at,
    )
    if view.state is not RefundState.PENDING:
        journal.record_refund_state(
            session,
            view.out_refund_no,
            view.state,
            cashier=operator,
            refund_id=view.refund_id,
            failure_reason=view.failure_reason,
            at=at,
        )
    return True
