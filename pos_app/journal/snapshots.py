"""What an event records about the rows it changed, so ``verify`` can detect a row edited by hand.

Every event that creates or changes a sale, refund, shift, cash movement or staff member carries a
snapshot of that row *after* the change under a fixed payload key. ``pos journal verify`` recomputes
the snapshot of every current row and compares it with the latest snapshot in the chain: a row whose
content differs, a row no event mentions, or a row an event mentions that is gone are all reported.
``updated_at`` columns are not covered (they carry no business meaning); everything else is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import Enum
from typing import Any

from sqlmodel import Session, col, select

from pos_app.journal.events import at_text
from pos_app.journal.models import (
    CashMovement,
    PaymentAttempt,
    Refund,
    Sale,
    SaleLine,
    Shift,
    ShiftClose,
    Staff,
    ZReport,
)

SALE, REFUND, SHIFT, CASH_MOVEMENT, STAFF = "sale", "refund", "shift", "cash_movement", "staff"
Z_REPORT, SHIFT_CLOSE = "z_report", "shift_close"
#: Payload keys holding snapshots, and the snapshot field that identifies the row.
SNAPSHOT_KEYS: dict[str, str] = {
    SALE: "out_trade_no",
    REFUND: "out_refund_no",
    SHIFT: "shift_id",
    CASH_MOVEMENT: "movement_id",
    STAFF: "name",
    Z_REPORT: "z_id",
    SHIFT_CLOSE: "shift_id",
}


def _enum(value: Enum | str) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def sale_snapshot(
    session: Session,
    sale: Sale,
    *,
    lines: Sequence[SaleLine] | None = None,
    attempt: PaymentAttempt | None = None,
) -> dict[str, Any]:
    """The sale as its events carry it. ``lines`` and ``attempt``, when the caller has just written
    them, spare reading them back (two queries on the cashier's path from the key to the QR)."""
    if lines is None:
        lines = session.exec(select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(col(SaleLine.line_no))).all()
    if attempt is None:
        attempt = session.exec(select(PaymentAttempt).where(PaymentAttempt.sale_id == sale.id)).first()
    return {
        "out_trade_no": sale.out_trade_no,
        "terminal_id": sale.terminal_id,
        "store_id": sale.store_id,
        "cashier": sale.cashier,
        "channel": _enum(sale.channel),
        "mode": _enum(sale.mode),
        "subject": sale.subject,
        "amount_fen": sale.amount_fen,
        "state": _enum(sale.state),
        "refunded_fen": sale.refunded_fen,
        "transaction_id": sale.transaction_id,
        "shift_id": sale.shift_id,
        "business_day": sale.business_day,
        "created_at": at_text(sale.created_at),
        "lines": [
            {
                "line_no": line.line_no,
                "name": line.name,
                "qty": line.qty,
                "unit_fen": line.unit_fen,
                "amount_fen": line.amount_fen,
            }
            for line in lines
        ],
        "attempt": None
        if attempt is None
        else {
            "out_trade_no": attempt.out_trade_no,
            "channel": _enum(attempt.channel),
            "mode": _enum(attempt.mode),
            "amount_fen": attempt.amount_fen,
            "state": _enum(attempt.state),
            "transaction_id": attempt.transaction_id,
            "reason": attempt.reason,
            "cashier": attempt.cashier,
        },
    }


def refund_snapshot(refund: Refund) -> dict[str, Any]:
    return {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": refund.out_trade_no,
        "amount_fen": refund.amount_fen,
        "state": _enum(refund.state),
        "reason": refund.reason,
        "refund_id": refund.refund_id,
        "failure_reason": refund.failure_reason,
        "cashier": refund.cashier,
        "approved_by": refund.approved_by,
        "created_at": at_text(refund.created_at),
        # Added with voids: listed only for a void, so refunds journaled before it still verify.
        **({"kind": refund.kind} if refund.kind != "refund" else {}),
        # Added with refunds made elsewhere: listed only for those, so older events still verify.
        **({"origin": refund.origin} if refund.origin != "till" else {}),
    }


def shift_snapshot(shift: Shift) -> dict[str, Any]:
    return {
        "shift_id": shift.id,
        "terminal_id": shift.terminal_id,
        "cashier": shift.cashier,
        "opening_float_fen": shift.opening_float_fen,
        "opened_at": at_text(shift.opened_at),
        "closed_at": None if shift.closed_at is None else at_text(shift.closed_at),
        "closed_by": shift.closed_by,
        "expected_cash_fen": shift.expected_cash_fen,
        "counted_cash_fen": shift.counted_cash_fen,
    }


def cash_movement_snapshot(movement: CashMovement) -> dict[str, Any]:
    return {
        "movement_id": movement.id,
        "terminal_id": movement.terminal_id,
        "shift_id": movement.shift_id,
        "kind": movement.kind,
        "amount_fen": movement.amount_fen,
        "out_trade_no": movement.out_trade_no,
        "reason": movement.reason,
        "cashier": movement.cashier,
        "at": at_text(movement.at),
    }


def staff_snapshot(staff: Staff) -> dict[str, Any]:
    # A fingerprint, not the salted hash itself: the event log is uploaded to the engine.
    return {
        "name": staff.name,
        "role": staff.role,
        "active": staff.active,
        "pin_fingerprint": hashlib.sha256(staff.pin_hash.encode("utf-8")).hexdigest()[:16],
    }


def z_report_snapshot(report: ZReport) -> dict[str, Any]:
    # The content's hash is recomputed from the stored text: an edited report no longer matches.
    return {
        "z_id": f"{report.terminal_id}-{report.number}",
        "terminal_id": report.terminal_id,
        "number": report.number,
        "business_day": report.business_day,
        "content_sha256": hashlib.sha256(report.content_json.encode("utf-8")).hexdigest(),
        "content_hash": report.content_hash,
        "closed_by": report.closed_by,
        "closed_at": at_text(report.closed_at),
    }


def shift_close_snapshot(close: ShiftClose) -> dict[str, Any]:
    return {
        "shift_id": close.shift_id,
        "terminal_id": close.terminal_id,
        "counts_json": close.counts_json,
        "cash_expected_fen": close.cash_expected_fen,
        "cash_counted_fen": close.cash_counted_fen,
        "wechat_expected_fen": close.wechat_expected_fen,
        "wechat_counted_fen": close.wechat_counted_fen,
        "alipay_expected_fen": close.alipay_expected_fen,
        "alipay_counted_fen": close.alipay_counted_fen,
        "counted_by": close.counted_by,
        "counted_at": at_text(close.counted_at),
        "signed_off_by": close.signed_off_by,
        "signed_off_at": None if close.signed_off_at is None else at_text(close.signed_off_at),
        "note": close.note,
    }


def current_snapshots(session: Session) -> dict[tuple[str, str], dict[str, Any]]:
    """The snapshot of every covered row as it is now, keyed by (payload key, identity)."""
    result: dict[tuple[str, str], dict[str, Any]] = {}
    for sale in session.exec(select(Sale)).all():
        result[(SALE, sale.out_trade_no)] = sale_snapshot(session, sale)
    for refund in session.exec(select(Refund)).all():
        result[(REFUND, refund.out_refund_no)] = refund_snapshot(refund)
    for shift in session.exec(select(Shift)).all():
        result[(SHIFT, str(shift.id))] = shift_snapshot(shift)
    for movement in session.exec(select(CashMovement)).all():
        result[(CASH_MOVEMENT, str(movement.id))] = cash_movement_snapshot(movement)
    for staff in session.exec(select(Staff)).all():
        result[(STAFF, staff.name)] = staff_snapshot(staff)
    for close in session.exec(select(ShiftClose)).all():
        result[(SHIFT_CLOSE, str(close.shift_id))] = shift_close_snapshot(close)
    for report in session.exec(select(ZReport)).all():
        result[(Z_REPORT, f"{report.terminal_id}-{report.number}")] = z_report_snapshot(report)
    return result
