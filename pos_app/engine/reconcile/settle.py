"""What the bill proved, applied to the ledger: each payment moved to its settled state."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.states import PaymentState, can_transition
from pos_app.engine.reconcile.results import Settlement
from pos_app.engine.store import repo

log = logging.getLogger(__name__)


def apply_settlements(engine: Engine, settlements: Iterable[Settlement], *, bill_day: date, now: datetime) -> list[str]:
    """Move each payment the bill proved to its state (compare-and-set + a status event for its terminal).

    A payment that changed meanwhile (another process settled it) is left alone. Returns the
    out_trade_nos changed. ``paid_at`` is the bill's time of the payment.
    """
    changed: list[str] = []
    day_start = datetime.combine(bill_day, time(0), CHINA_TZ)
    for item in settlements:
        if item.out_refund_no is not None or not isinstance(item.target, PaymentState):
            continue
        with Session(engine) as session, session.begin():
            payment = repo.get_payment(session, item.out_trade_no, lock=True)
            if payment is None or payment.amount_fen != item.amount_fen:
                continue
            current = PaymentState(payment.state)
            # Settled meanwhile by another process (or moved where the bill's outcome no longer applies).
            if current == item.target or not can_transition(current, item.target):
                continue
            changes: dict[str, object] = {"state": item.target.value}
            if item.target is PaymentState.PAID:
                changes["paid_at"] = day_start + timedelta(seconds=item.at_s)
                if item.transaction_id and not payment.transaction_id:
                    changes["transaction_id"] = item.transaction_id
            if not repo.cas_update_payment(session, payment, changes, now):
                continue
            repo.record_attempt(
                session, payment.out_trade_no, "reconcile", item.target.value.lower(), now, detail="provider bill"
            )
            repo.append_event(session, repo.payment_view(payment), now)
            changed.append(payment.out_trade_no)
            log.info("reconcile settled %s as %s from the provider's bill", payment.out_trade_no, item.target)
    return changed
