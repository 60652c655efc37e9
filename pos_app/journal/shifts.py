"""Shifts and their drawer count: open with a float (counted by denomination), cash in/out with a
reason, close with a *blind* count per payment method, and a manager's sign-off of the difference.

The role checks come from :func:`pos_app.domain.staff.may`. Every step appends its own journal event:
``shift.opened`` (+ ``shift.float_counted``) · ``cash.movement`` · ``shift.closed`` (+ ``shift.counted``)
· ``shift.signed_off``.

*Blind* means the cashier enters the count before anything shows what the drawer should hold:
:func:`blind_close` takes the count and only then returns the expected figures. Like every
journal write, nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pos_app.domain.cash import DENOMINATIONS_FEN, count_total
from pos_app.domain.chain import canonical_json
from pos_app.domain.errors import AmountError, AuthorisationError, InputError
from pos_app.domain.routing import Channel
from pos_app.domain.shift_close import MethodFigures, ShiftCloseResult
from pos_app.domain.staff import Action, Role, may
from pos_app.domain.states import PaymentState
from pos_app.journal.cash import record_cash_movement
from pos_app.journal.clock import aware
from pos_app.journal.drawer import add_movement, current_shift
from pos_app.journal.errors import JournalError
from pos_app.journal.events import append_event
from pos_app.journal.models import CashMovement, Sale, Shift, ShiftClose, Staff
from pos_app.journal.payloads import load_payload
from pos_app.journal.snapshots import (
    CASH_MOVEMENT,
    SHIFT,
    SHIFT_CLOSE,
    cash_movement_snapshot,
    shift_close_snapshot,
    shift_snapshot,
)

#: Sale states in which the customer's money came in (a later refund does not undo the sale).
SOLD_STATES = (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED)

_ACTION_WORDS: dict[Action, str] = {
    Action.OPEN_SHIFT: "open a shift",
    Action.CLOSE_SHIFT: "close a shift",
    Action.CASH_IN: "put cash in",
    Action.CASH_OUT: "take cash out",
    Action.SIGN_OFF: "sign off a shift count",
    Action.X_REPORT: "print an X report",
    Action.Z_REPORT: "close the day",
    Action.DASHBOARD: "open the manager dashboard",
}


def authorise(staff: Staff, action: Action) -> None:
    """AuthorisationError unless ``staff`` is active and their role may do ``action``."""
    if not staff.active:
        raise AuthorisationError(f"{staff.name} is no longer active.")
    if not may(Role(staff.role), action):
        words = _ACTION_WORDS.get(action, action.value)
        raise AuthorisationError(f"{staff.name} ({staff.role}) may not {words} — ask a manager.")


def staff_named(session: Session, name: str) -> Staff:
    """The active staff member called ``name`` (the till knows who signed in by name)."""
    staff = session.exec(select(Staff).where(Staff.name == name)).first()
    if staff is None or not staff.active:
        raise AuthorisationError(f"{name!r} is not an active member of staff.")
    return staff


def _clean_counts(counts: Mapping[int, int]) -> dict[str, int]:
    """The count as JSON (denomination in fen as text → pieces), every denomination listed."""
    count_total(counts)  # refuses unknown denominations and negative counts
    for pieces in counts.values():
        if isinstance(pieces, bool) or not isinstance(pieces, int):
            raise AmountError("Count whole notes and coins.")
    return {str(d): int(counts.get(d, 0)) for d in DENOMINATIONS_FEN}


def counts_from_json(text: str) -> dict[int, int]:
    stored = load_payload(text)
    return {d: int(stored.get(str(d), 0)) for d in DENOMINATIONS_FEN}


# --- open / cash in-out ---------------------------------------------------------------------------


def open_shift(session: Session, *, terminal_id: str, cashier: str, float_fen: int, at: datetime) -> Shift:
    """Open a shift with the opening float counted into the drawer."""
    if current_shift(session, terminal_id) is not None:
        raise JournalError("A shift is already open on this terminal — close it first.")
    if isinstance(float_fen, bool) or not isinstance(float_fen, int) or float_fen < 0:
        raise AmountError("The opening float cannot be negative.")
    shift = Shift(terminal_id=terminal_id, cashier=cashier, opening_float_fen=float_fen, opened_at=aware(at))
    session.add(shift)
    session.flush()
    movement = add_movement(
        session, terminal_id=terminal_id, kind="float", amount_fen=float_fen, cashier=cashier, at=at
    )
    payload = {"cashier": cashier, SHIFT: shift_snapshot(shift), CASH_MOVEMENT: cash_movement_snapshot(movement)}
    append_event(session, terminal_id, "shift.opened", payload, at)
    return shift


def open_shift_counted(
    session: Session, *, terminal_id: str, by: Staff, counts: Mapping[int, int], at: datetime
) -> Shift:
    """Open a shift whose float is the drawer counted by denomination."""
    authorise(by, Action.OPEN_SHIFT)
    clean = _clean_counts(counts)
    shift = open_shift(session, terminal_id=terminal_id, cashier=by.name, float_fen=count_total(counts), at=at)
    payload = {"cashier": by.name, "shift_id": shift.id, "counts": clean, "total_fen": shift.opening_float_fen}
    append_event(session, terminal_id, "shift.float_counted", payload, at)
    return shift


def _require_open_shift(session: Session, terminal_id: str) -> Shift:
    shift = current_shift(session, terminal_id)
    if shift is None:
        raise JournalError("No shift is open on this terminal — open one first.")
    return shift


def cash_in(
    session: Session, *, terminal_id: str, by: Staff, amount_fen: int, reason: str, at: datetime
) -> CashMovement:
    """Cash put into the drawer (pay-in) with its reason."""
    authorise(by, Action.CASH_IN)
    _require_open_shift(session, terminal_id)
    if not reason.strip():
        raise InputError("Say why the cash goes in.")
    return record_cash_movement(
        session, terminal_id=terminal_id, kind="pay_in", amount_fen=amount_fen, cashier=by.name, at=at, reason=reason
    )


def cash_out(
    session: Session,
    *,
    terminal_id: str,
    by: Staff,
    amount_fen: int,
    reason: str,
    at: datetime,
    kind: str = "pay_out",
) -> CashMovement:
    """Cash taken out of the drawer: ``pay_out`` (an expense) or ``drop`` (to the safe). Managers only."""
    authorise(by, Action.CASH_OUT)
    shift = _require_open_shift(session, terminal_id)
    if kind not in ("pay_out", "drop"):
        raise InputError("Cash goes out as a pay-out or a drop.")
    if not reason.strip():
        raise InputError("Say why the cash goes out.")
    if isinstance(amount_fen, int) and amount_fen > expected_cash_fen(session, shift):
        raise AmountError("The drawer does not hold that much cash.")
    return record_cash_movement(
        session, terminal_id=terminal_id, kind=kind, amount_fen=amount_fen, cashier=by.name, at=at, reason=reason
    )


# --- close, blind close and sign-off ------------------------------------------------------------------


def expected_cash_fen(session: Session, shift: Shift) -> int:
    """Float plus every drawer movement of the shift."""
    statement = select(func.coalesce(func.sum(CashMovement.amount_fen), 0)).where(CashMovement.shift_id == shift.id)
    return int(session.exec(statement).one())


def close_shift(session: Session, *, terminal_id: str, cashier: str, counted_fen: int, at: datetime) -> Shift:
    """Close the open shift with the counted cash; the difference is ``counted - expected``."""
    shift = current_shift(session, terminal_id)
    if shift is None:
        raise JournalError("No shift is open on this terminal.")
    if isinstance(counted_fen, bool) or not isinstance(counted_fen, int) or counted_fen < 0:
        raise AmountError("The counted cash cannot be negative.")
    shift.expected_cash_fen = expected_cash_fen(session, shift)
    shift.counted_cash_fen = counted_fen
    shift.closed_at = aware(at)
    shift.closed_by = cashier
    session.add(shift)
    session.flush()
    payload = {
        "cashier": cashier,
        "difference_fen": counted_fen - shift.expected_cash_fen,
        SHIFT: shift_snapshot(shift),
    }
    append_event(session, terminal_id, "shift.closed", payload, at)
    return shift


def close_result(close: ShiftClose) -> ShiftCloseResult:
    """A stored shift close as its figures per payment method."""
    return ShiftCloseResult(
        shift_id=close.shift_id,
        terminal_id=close.terminal_id,
        counted_by=close.counted_by,
        counts=counts_from_json(close.counts_json),
        methods=(
            MethodFigures(Channel.CASH, close.cash_expected_fen, close.cash_counted_fen),
            MethodFigures(Channel.WECHAT, close.wechat_expected_fen, close.wechat_counted_fen),
            MethodFigures(Channel.ALIPAY, close.alipay_expected_fen, close.alipay_counted_fen),
        ),
        signed_off_by=close.signed_off_by,
    )


def wallet_expected_fen(session: Session, shift: Shift) -> dict[Channel, int]:
    """What each wallet took during the shift: sales paid minus what has been refunded of them."""
    statement = (
        select(Sale.channel, func.coalesce(func.sum(col(Sale.amount_fen) - col(Sale.refunded_fen)), 0))
        .where(Sale.shift_id == shift.id, col(Sale.state).in_(SOLD_STATES), Sale.channel != Channel.CASH)
        .group_by(Sale.channel)
    )
    result = {Channel.WECHAT: 0, Channel.ALIPAY: 0}
    for channel, amount in session.exec(statement).all():
        result[Channel(channel)] = int(amount)
    return result


def blind_close(
    session: Session,
    *,
    terminal_id: str,
    by: Staff,
    counts: Mapping[int, int],
    at: datetime,
    wallet_counted: Mapping[Channel, int] | None = None,
) -> ShiftCloseResult:
    """Close the open shift with the drawer counted by denomination (entered before the expected
    amount is shown) and, optionally, the wallet totals read off each wallet's merchant summary.
    Returns expected vs counted per method; the difference then needs a manager's :func:`sign_off`.
    """
    authorise(by, Action.CLOSE_SHIFT)
    shift = _require_open_shift(session, terminal_id)
    clean = _clean_counts(counts)
    counted_cash = count_total(counts)
    wallets = wallet_expected_fen(session, shift)
    counted_wallets = dict(wallets)
    for channel, amount in (wallet_counted or {}).items():
        if Channel(channel) == Channel.CASH:
            raise InputError("Cash is counted by denomination.")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise AmountError("A wallet total is a whole number of fen, not negative.")
        counted_wallets[Channel(channel)] = amount
    closed = close_shift(session, terminal_id=terminal_id, cashier=by.name, counted_fen=counted_cash, at=at)
    assert closed.id is not None and closed.expected_cash_fen is not None
    close = ShiftClose(
        shift_id=closed.id,
        terminal_id=terminal_id,
        counts_json=canonical_json(clean),
        cash_expected_fen=closed.expected_cash_fen,
        cash_counted_fen=counted_cash,
        wechat_expected_fen=wallets[Channel.WECHAT],
        wechat_counted_fen=counted_wallets[Channel.WECHAT],
        alipay_expected_fen=wallets[Channel.ALIPAY],
        alipay_counted_fen=counted_wallets[Channel.ALIPAY],
        counted_by=by.name,
        counted_at=aware(at),
    )
    session.add(close)
    session.flush()
    result = close_result(close)
    payload: dict[str, Any] = {
        "cashier": by.name,
        "shift_id": closed.id,
        "difference_fen": result.difference_fen,
        SHIFT_CLOSE: shift_close_snapshot(close),
    }
    append_event(session, terminal_id, "shift.counted", payload, at)
    return result


def sign_off(session: Session, *, shift_id: int, manager: Staff, at: datetime, note: str = "") -> ShiftCloseResult:
    """A manager accepts the counted figures (and their difference) of a closed shift."""
    authorise(manager, Action.SIGN_OFF)
    close = session.get(ShiftClose, shift_id)
    if close is None:
        raise JournalError(f"Shift {shift_id} has no blind count to sign off — close it first.")
    if close.signed_off_by is not None:
        raise JournalError(f"Shift {shift_id} was already signed off by {close.signed_off_by}.")
    close.signed_off_by = manager.name
    close.signed_off_at = aware(at)
    close.note = note[:80]
    session.add(close)
    session.flush()
    result = close_result(close)
    payload: dict[str, Any] = {
        "cashier": manager.name,
        "shift_id": shift_id,
        "difference_fen": result.difference_fen,
        "note": close.note,
        SHIFT_CLOSE: shift_close_snapshot(close),
    }
    append_event(session, close.terminal_id, "shift.signed_off", payload, at)
    return result


def unsigned_closes(session: Session, terminal_id: str | None = None) -> list[ShiftCloseResult]:
    """Closed shifts still waiting for a manager's sign-off."""
    statement = select(ShiftClose).where(col(ShiftClose.signed_off_by).is_(None))
    if terminal_id is not None:
        statement = statement.where(ShiftClose.terminal_id == terminal_id)
    return [close_result(row) for row in session.exec(statement.order_by(col(ShiftClose.shift_id)))]


def drawer_expected_fen(session: Session, terminal_id: str) -> int | None:
    """What the drawer of the open shift should hold now (for managers; never shown before a blind count)."""
    shift = current_shift(session, terminal_id)
    return None if shift is None else expected_cash_fen(session, shift)
