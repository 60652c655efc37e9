"""Repository functions the till calls. Each takes a Session and **never commits**: the caller wraps a
whole use case (sale + lines + attempt + events + outbox rows) in one ``session_scope`` so it is
written completely or not at all.

Every change appends an event whose payload carries the cashier's name and a snapshot of the rows
it changed (see :mod:`pos_app.journal.snapshots`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pos_app.domain.errors import AmountError, InputError, PosError
from pos_app.domain.ids import make_out_refund_no, make_out_trade_no
from pos_app.domain.money import parse_amount
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import (
    MONEY_IN_STATES,
    SETTLED_STATES,
    PaymentState,
    RefundState,
    advance,
    advance_refund,
)
from pos_app.journal.events import append_event, aware, next_seq
from pos_app.journal.models import (
    CashMovement,
    JournalEvent,
    OutboxEntry,
    PaymentAttempt,
    Refund,
    Sale,
    SaleLine,
    Shift,
)
from pos_app.journal.snapshots import (
    CASH_MOVEMENT,
    REFUND,
    SALE,
    SHIFT,
    cash_movement_snapshot,
    refund_snapshot,
    sale_snapshot,
    shift_snapshot,
)


class JournalError(PosError):
    """A journal operation the data does not allow (unknown sale, refund too large, no open shift...)."""


@dataclass(frozen=True, slots=True)
class LineIn:
    """One item line as the cashier entered it."""

    name: str
    unit_fen: int
    qty: int = 1

    @property
    def amount_fen(self) -> int:
        return self.unit_fen * self.qty


def business_day_of(at: datetime) -> str:
    """The store's local date of an instant (the machine's time zone: the till stands in the store).

    Callers may pass UTC times; the day must still be the local one, or a sale at 07:30 in Beijing
    would land on the previous day.
    """
    return aware(at).astimezone().strftime("%Y-%m-%d")


def now() -> datetime:
    return datetime.now(UTC)


# --- order numbers -----------------------------------------------------------------------------


def new_out_trade_no(session: Session, *, store_id: str, terminal_id: str, at: datetime) -> str:
    """A fresh out_trade_no from the durable "trade" counter (commit it with the sale that uses it)."""
    seq = next_seq(session, terminal_id, "trade")
    return make_out_trade_no(store=store_id, terminal=terminal_id, seq=seq, at=aware(at))


def new_out_refund_no(session: Session, *, store_id: str, terminal_id: str, at: datetime) -> str:
    seq = next_seq(session, terminal_id, "refund")
    return make_out_refund_no(store=store_id, terminal=terminal_id, seq=seq, at=aware(at))


# --- sales -------------------------------------------------------------------------------------


def _sale_amount(amount_fen: int | None, lines: Sequence[LineIn] | None) -> int:
    if lines:
        for line in lines:
            if line.qty <= 0 or line.unit_fen <= 0:
                raise AmountError(f"Line {line.name!r}: quantity and price must be more than zero.")
        total = sum(line.amount_fen for line in lines)
        if amount_fen is not None and amount_fen != total:
            raise AmountError("The amount does not match the sum of the lines.")
        amount_fen = total
    if amount_fen is None or isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise AmountError("Enter an amount.")
    if amount_fen <= 0:
        raise AmountError("The amount must be more than zero.")
    return amount_fen


def get_sale(session: Session, out_trade_no: str) -> Sale | None:
    return session.exec(select(Sale).where(Sale.out_trade_no == out_trade_no)).first()


def _require_sale(session: Session, out_trade_no: str) -> Sale:
    sale = get_sale(session, out_trade_no)
    if sale is None:
        raise JournalError(f"No sale {out_trade_no} in this journal.")
    return sale


def get_attempt(session: Session, out_trade_no: str) -> PaymentAttempt | None:
    return session.exec(select(PaymentAttempt).where(PaymentAttempt.out_trade_no == out_trade_no)).first()


def sale_lines(session: Session, sale: Sale) -> list[SaleLine]:
    statement = select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(col(SaleLine.line_no))
    return list(session.exec(statement).all())


def current_shift(session: Session, terminal_id: str) -> Shift | None:
    """The open shift of this terminal, if any."""
    statement = (
        select(Shift)
        .where(Shift.terminal_id == terminal_id, col(Shift.closed_at).is_(None))
        .order_by(col(Shift.id).desc())
    )
    return session.exec(statement).first()


@dataclass(frozen=True, slots=True)
class NewSale:
    """The rows a new sale was written as (so its first event's snapshot needs no read back)."""

    sale: Sale
    lines: list[SaleLine]
    attempt: PaymentAttempt


def _insert_sale(
    session: Session,
    *,
    terminal_id: str,
    store_id: str,
    cashier: str,
    out_trade_no: str,
    channel: Channel,
    mode: PaymentMode,
    subject: str,
    amount_fen: int | None,
    lines: Sequence[LineIn] | None,
    state: PaymentState,
    at: datetime,
) -> NewSale:
    if not cashier:
        raise InputError("Every sale needs the cashier's name.")
    total = _sale_amount(amount_fen, lines)
    when = aware(at)
    shift = current_shift(session, terminal_id)
    sale = Sale(
        out_trade_no=out_trade_no,
        terminal_id=terminal_id,
        store_id=store_id,
        cashier=cashier,
        channel=channel,
        mode=mode,
        subject=subject,
        amount_fen=total,
        state=state,
        shift_id=None if shift is None else shift.id,
        business_day=business_day_of(when),
        created_at=when,
        updated_at=when,
    )
    session.add(sale)
    session.flush()
    assert sale.id is not None
    sale_lines = [
        SaleLine(
            sale_id=sale.id,
            line_no=number,
            name=line.name,
            qty=line.qty,
            unit_fen=line.unit_fen,
            amount_fen=line.amount_fen,
        )
        for number, line in enumerate(lines or (), start=1)
    ]
    attempt = PaymentAttempt(
        sale_id=sale.id,
        out_trade_no=out_trade_no,
        channel=channel,
        mode=mode,
        amount_fen=total,
        state=state,
        cashier=cashier,
        created_at=when,
        updated_at=when,
    )
    # Not flushed here: the sale's first event (written next, in the same transaction) flushes
    # them with it, one round of INSERTs fewer on the cashier's path.
    session.add_all([*sale_lines, attempt])
    return NewSale(sale, sale_lines, attempt)


def start_sale(
    session: Session,
    *,
    terminal_id: str,
    store_id: str,
    cashier: str,
    out_trade_no: str,
    channel: Channel,
    mode: PaymentMode,
    subject: str,
    at: datetime,
    amount_fen: int | None = None,
    lines: Sequence[LineIn] | None = None,
) -> Sale:
    """Record the intent of a wallet payment (state CREATED): sale, lines, attempt, event, outbox row.

    Commit before calling the engine. Give ``amount_fen`` or ``lines`` (or both, if they agree).
    """
    new = _insert_sale(
        session,
        terminal_id=terminal_id,
        store_id=store_id,
        cashier=cashier,
        out_trade_no=out_trade_no,
        channel=channel,
        mode=mode,
        subject=subject,
        amount_fen=amount_fen,
        lines=lines,
        state=PaymentState.CREATED,
        at=at,
    )
    snapshot = sale_snapshot(session, new.sale, lines=new.lines, attempt=new.attempt)
    append_event(
        session, terminal_id, "sale.started", {"cashier": cashier, "out_trade_no": out_trade_no, SALE: snapshot}, at
    )
    return new.sale


def record_attempt_state(
    session: Session,
    out_trade_no: str,
    state: PaymentState,
    *,
    cashier: str,
    transaction_id: str | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Move a payment to ``state`` (domain.states.advance). False for a harmless repeat (nothing
    written); IllegalTransition for a backwards move; JournalError for an unknown out_trade_no.
    """
    attempt = get_attempt(session, out_trade_no)
    if attempt is None:
        raise JournalError(f"No payment {out_trade_no} in this journal.")
    sale = session.get(Sale, attempt.sale_id)
    assert sale is not None
    previous = PaymentState(attempt.state)
    if not advance(previous, state):
        return False
    when = aware(at or now())
    attempt.state = state
    sale.state = state
    if transaction_id:
        attempt.transaction_id = transaction_id
        sale.transaction_id = transaction_id
    if reason is not None:
        attempt.reason = reason[:255]
    attempt.updated_at = when
    sale.updated_at = when
    session.add(attempt)
    session.add(sale)
    session.flush()
    payload: dict[str, Any] = {
        "cashier": cashier,
        "out_trade_no": out_trade_no,
        "from": previous.value,
        "to": state.value,
        "transaction_id": transaction_id,
        "reason": reason,
        SALE: sale_snapshot(session, sale),
    }
    append_event(session, sale.terminal_id, "payment.state", payload, when)
    return True


def _add_cash_movement(
    session: Session,
    *,
    terminal_id: str,
    kind: str,
    amount_fen: int,
    cashier: str,
    at: datetime,
    out_trade_no: str | None = None,
    reason: str = "",
) -> CashMovement:
    shift = current_shift(session, terminal_id)
    movement = CashMovement(
        terminal_id=terminal_id,
        shift_id=None if shift is None else shift.id,
        kind=kind,
        amount_fen=amount_fen,
        out_trade_no=out_trade_no,
        reason=reason[:80],
        cashier=cashier,
        at=aware(at),
    )
    session.add(movement)
    session.flush()
    return movement


def record_cash_sale(
    session: Session,
    *,
    terminal_id: str,
    store_id: str,
    cashier: str,
    subject: str,
    at: datetime,
    amount_fen: int | None = None,
    lines: Sequence[LineIn] | None = None,
    tendered_fen: int | None = None,
    out_trade_no: str | None = None,
) -> Sale:
    """A completed cash sale (state PAID) with its drawer movement, in one event. Works offline.

    ``out_trade_no`` is generated from the "trade" counter when not given.
    """
    total = _sale_amount(amount_fen, lines)
    if tendered_fen is not None and tendered_fen < total:
        raise AmountError("The cash tendered is less than the amount due.")
    number = out_trade_no or new_out_trade_no(session, store_id=store_id, terminal_id=terminal_id, at=at)
    new = _insert_sale(
        session,
        terminal_id=terminal_id,
        store_id=store_id,
        cashier=cashier,
        out_trade_no=number,
        channel=Channel.CASH,
        mode=PaymentMode.CASH,
        subject=subject,
        amount_fen=total,
        lines=lines,
        state=PaymentState.PAID,
        at=at,
    )
    movement = _add_cash_movement(
        session, terminal_id=terminal_id, kind="sale", amount_fen=total, cashier=cashier, at=at, out_trade_no=number
    )
    payload: dict[str, Any] = {
        "cashier": cashier,
        "out_trade_no": number,
        "tendered_fen": tendered_fen,
        "change_fen": None if tendered_fen is None else tendered_fen - total,
        SALE: sale_snapshot(session, new.sale, lines=new.lines, attempt=new.attempt),
        CASH_MOVEMENT: cash_movement_snapshot(movement),
    }
    append_event(session, terminal_id, "sale.cash", payload, at)
    return new.sale


def void_cash_sale(
    session: Session, out_trade_no: str, *, cashier: str, approved_by: str, at: datetime, reason: str = ""
) -> Sale:
    """Same-day void of a PAID cash sale (manager-approved): state REVERSED, cash paid back out."""
    sale = _require_sale(session, out_trade_no)
    if sale.channel != Channel.CASH:
        raise JournalError("Wallet payments are voided through the engine (cancel), not here.")
    if sale.state != PaymentState.PAID:
        raise JournalError(f"Only a paid sale without refunds can be voided; this one is {sale.state.value}.")
    if sale.business_day != business_day_of(at):
        raise JournalError("Only today's sales can be voided — use a refund instead.")
    attempt = get_attempt(session, out_trade_no)
    assert attempt is not None
    when = aware(at)
    advance(PaymentState(sale.state), PaymentState.REVERSED)
    sale.state = attempt.state = PaymentState.REVERSED
    attempt.reason = reason or "voided"
    sale.updated_at = attempt.updated_at = when
    session.add(sale)
    session.add(attempt)
    movement = _add_cash_movement(
        session,
        terminal_id=sale.terminal_id,
        kind="void",
        amount_fen=-sale.amount_fen,
        cashier=cashier,
        at=at,
        out_trade_no=out_trade_no,
        reason=reason,
    )
    payload: dict[str, Any] = {
        "cashier": cashier,
        "approved_by": approved_by,
        "out_trade_no": out_trade_no,
        "reason": reason,
        SALE: sale_snapshot(session, sale),
        CASH_MOVEMENT: cash_movement_snapshot(movement),
    }
    append_event(session, sale.terminal_id, "sale.voided", payload, at)
    return sale


# --- refunds -----------------------------------------------------------------------------------


def get_refund(session: Session, out_refund_no: str) -> Refund | None:
    return session.exec(select(Refund).where(Refund.out_refund_no == out_refund_no)).first()


def sale_refunds(session: Session, out_trade_no: str) -> list[Refund]:
    statement = select(Refund).where(Refund.out_trade_no == out_trade_no).order_by(col(Refund.id))
    return list(session.exec(statement).all())


def refundable_fen(session: Session, sale: Sale) -> int:
    """What can still be refunded: paid amount minus successful and in-flight refunds."""
    in_flight = sum(
        refund.amount_fen
        for refund in sale_refunds(session, sale.out_trade_no)
        if refund.state not in (RefundState.SUCCESS, RefundState.FAILED)
    )
    return sale.amount_fen - sale.refunded_fen - in_flight


def _apply_refund_success(session: Session, sale: Sale, refund: Refund, cashier: str, at: datetime) -> None:
    sale.refunded_fen += refund.amount_fen
    target = PaymentState.REFUNDED if sale.refunded_fen >= sale.amount_fen else PaymentState.PARTIALLY_REFUNDED
    advance(PaymentState(sale.state), target)
    sale.state = target
    sale.updated_at = aware(at)
    attempt = get_attempt(session, sale.out_trade_no)
    if attempt is not None:
        attempt.state = target
        attempt.updated_at = aware(at)
        session.add(attempt)
    session.add(sale)
    session.flush()


def record_refund(
    session: Session,
    *,
    out_trade_no: str,
    amount_fen: int,
    cashier: str,
    approved_by: str,
    at: datetime,
    reason: str = "",
    out_refund_no: str | None = None,
    state: RefundState = RefundState.PENDING,
) -> Refund:
    """Record a refund of a paid sale (manager ``approved_by``). Wallet refunds start PENDING (commit,
    then call the engine, then :func:`record_refund_state`); cash refunds pass ``state=SUCCESS`` and
    pay the cash out of the drawer at once. ``out_refund_no`` is generated when not given.
    """
    sale = _require_sale(session, out_trade_no)
    if sale.state not in MONEY_IN_STATES:
        raise JournalError(f"Sale {out_trade_no} is {sale.state.value}: there is no payment to refund.")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise AmountError("The refund amount must be more than zero.")
    if amount_fen > refundable_fen(session, sale):
        raise AmountError("The refund is more than what is left to refund on this sale.")
    if state not in (RefundState.PENDING, RefundState.SUCCESS):
        raise ValueError("a refund starts PENDING (wallet) or SUCCESS (cash)")
    if state == RefundState.SUCCESS and sale.channel != Channel.CASH:
        raise JournalError("Wallet refunds start PENDING and are settled by the engine.")
    when = aware(at)
    number = out_refund_no or new_out_refund_no(session, store_id=sale.store_id, terminal_id=sale.terminal_id, at=at)
    assert sale.id is not None
    refund = Refund(
        out_refund_no=number,
        sale_id=sale.id,
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        state=state,
        reason=reason[:80],
        cashier=cashier,
        approved_by=approved_by,
        created_at=when,
        updated_at=when,
    )
    session.add(refund)
    session.flush()
    payload: dict[str, Any] = {
        "cashier": cashier,
        "approved_by": approved_by,
        "out_trade_no": out_trade_no,
        "out_refund_no": number,
    }
    if state == RefundState.SUCCESS:
        _apply_refund_success(session, sale, refund, cashier, at)
        movement = _add_cash_movement(
            session,
            terminal_id=sale.terminal_id,
            kind="refund",
            amount_fen=-amount_fen,
            cashier=cashier,
            at=at,
            out_trade_no=out_trade_no,
            reason=reason,
        )
        payload[CASH_MOVEMENT] = cash_movement_snapshot(movement)
    payload[REFUND] = refund_snapshot(refund)
    payload[SALE] = sale_snapshot(session, sale)
    append_event(session, sale.terminal_id, "refund.created", payload, at)
    return refund


def record_refund_state(
    session: Session,
    out_refund_no: str,
    state: RefundState,
    *,
    cashier: str,
    refund_id: str | None = None,
    failure_reason: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Move a wallet refund to ``state``; on SUCCESS the sale becomes PARTIALLY_REFUNDED / REFUNDED.
    False for a harmless repeat.
    """
    refund = get_refund(session, out_refund_no)
    if refund is None:
        raise JournalError(f"No refund {out_refund_no} in this journal.")
    previous = RefundState(refund.state)
    if not advance_refund(previous, state):
        return False
    sale = session.get(Sale, refund.sale_id)
    assert sale is not None
    when = aware(at or now())
    refund.state = state
    if refund_id:
        refund.refund_id = refund_id
    if failure_reason is not None:
        refund.failure_reason = failure_reason[:255]
    refund.updated_at = when
    session.add(refund)
    session.flush()
    if state == RefundState.SUCCESS:
        _apply_refund_success(session, sale, refund, cashier, when)
    payload: dict[str, Any] = {
        "cashier": cashier,
        "out_trade_no": refund.out_trade_no,
        "out_refund_no": out_refund_no,
        "from": previous.value,
        "to": state.value,
        REFUND: refund_snapshot(refund),
        SALE: sale_snapshot(session, sale),
    }
    append_event(session, sale.terminal_id, "refund.state", payload, when)
    return True


def unsettled_refunds(session: Session) -> list[Refund]:
    statement = select(Refund).where(
        col(Refund.state).in_([RefundState.PENDING, RefundState.PROCESSING, RefundState.UNKNOWN])
    )
    return list(session.exec(statement.order_by(col(Refund.id))).all())


# --- shifts and cash ---------------------------------------------------------------------------

#: Drawer movement kinds a cashier records by hand, with the sign applied to the amount.
MANUAL_CASH_KINDS: dict[str, int] = {"pay_in": 1, "pay_out": -1, "drop": -1}


def open_shift(session: Session, *, terminal_id: str, cashier: str, float_fen: int, at: datetime) -> Shift:
    """Open a shift with the opening float counted into the drawer."""
    if current_shift(session, terminal_id) is not None:
        raise JournalError("A shift is already open on this terminal — close it first.")
    if isinstance(float_fen, bool) or not isinstance(float_fen, int) or float_fen < 0:
        raise AmountError("The opening float cannot be negative.")
    shift = Shift(terminal_id=terminal_id, cashier=cashier, opening_float_fen=float_fen, opened_at=aware(at))
    session.add(shift)
    session.flush()
    movement = _add_cash_movement(
        session, terminal_id=terminal_id, kind="float", amount_fen=float_fen, cashier=cashier, at=at
    )
    payload = {"cashier": cashier, SHIFT: shift_snapshot(shift), CASH_MOVEMENT: cash_movement_snapshot(movement)}
    append_event(session, terminal_id, "shift.opened", payload, at)
    return shift


def record_cash_movement(
    session: Session, *, terminal_id: str, kind: str, amount_fen: int, cashier: str, at: datetime, reason: str = ""
) -> CashMovement:
    """A pay-in, pay-out or drop; ``amount_fen`` is positive, the sign comes from ``kind``."""
    if kind not in MANUAL_CASH_KINDS:
        raise InputError(f"Unknown cash movement {kind!r} (use {', '.join(MANUAL_CASH_KINDS)}).")
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise AmountError("The amount must be more than zero.")
    movement = _add_cash_movement(
        session,
        terminal_id=terminal_id,
        kind=kind,
        amount_fen=MANUAL_CASH_KINDS[kind] * amount_fen,
        cashier=cashier,
        at=at,
        reason=reason,
    )
    append_event(
        session, terminal_id, "cash.movement", {"cashier": cashier, CASH_MOVEMENT: cash_movement_snapshot(movement)}, at
    )
    return movement


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


# --- queries -----------------------------------------------------------------------------------


def _matches(sale: Sale, token: str) -> bool:
    lowered = token.lower()
    local = sale.created_at.astimezone()
    if lowered in sale.out_trade_no.lower() or lowered in (sale.transaction_id or "").lower():
        return True
    channel = Channel(sale.channel)
    if lowered in (channel.value, channel.label.lower()) or lowered == PaymentState(sale.state).value.lower():
        return True
    if lowered in sale.cashier.lower() or lowered in sale.subject.lower():
        return True
    if ":" in token and local.strftime("%H:%M:%S").startswith(token):
        return True
    try:
        return parse_amount(token, max_fen=10**12) == sale.amount_fen
    except AmountError:
        return False


def list_sales(
    session: Session,
    day: date | str | None = None,
    query: str = "",
    *,
    terminal_id: str | None = None,
    limit: int = 500,
) -> list[Sale]:
    """Sales of one business day (all days if None), newest first. ``query`` words must all match
    one of: out_trade_no or transaction id (substring), channel, state, cashier, subject, an amount
    (``12.30`` / ``¥12.3``) or a local time prefix (``14:`` / ``14:05``).
    """
    statement = select(Sale)
    if day is not None:
        statement = statement.where(Sale.business_day == (day if isinstance(day, str) else day.isoformat()))
    if terminal_id is not None:
        statement = statement.where(Sale.terminal_id == terminal_id)
    statement = statement.order_by(col(Sale.created_at).desc(), col(Sale.id).desc())
    tokens = query.split()
    result: list[Sale] = []
    for sale in session.exec(statement):
        if all(_matches(sale, token) for token in tokens):
            result.append(sale)
            if len(result) >= limit:
                break
    return result


def sale_events(session: Session, out_trade_no: str) -> list[JournalEvent]:
    """The full event trail of one sale (its payment and refunds), oldest first."""
    statement = select(JournalEvent).where(JournalEvent.ref == out_trade_no).order_by(col(JournalEvent.seq))
    return list(session.exec(statement).all())


def non_final_attempts(session: Session) -> list[PaymentAttempt]:
    """Payments whose outcome is not known yet: to be resolved by asking the engine (on start too)."""
    unsettled = [state for state in PaymentState if state not in SETTLED_STATES]
    statement = select(PaymentAttempt).where(col(PaymentAttempt.state).in_(unsettled)).order_by(col(PaymentAttempt.id))
    return list(session.exec(statement).all())


# --- outbox ------------------------------------------------------------------------------------


def pending_outbox(session: Session, limit: int = 500, *, terminal_id: str | None = None) -> list[JournalEvent]:
    """Unsent events in seq order (upload them with ``event.as_upload()``)."""
    statement = (
        select(JournalEvent)
        .join(
            OutboxEntry,
            (col(OutboxEntry.terminal_id) == col(JournalEvent.terminal_id))
            & (col(OutboxEntry.seq) == col(JournalEvent.seq)),
        )
        .where(col(OutboxEntry.sent_at).is_(None))
    )
    if terminal_id is not None:
        statement = statement.where(JournalEvent.terminal_id == terminal_id)
    statement = statement.order_by(col(JournalEvent.terminal_id), col(JournalEvent.seq)).limit(limit)
    return list(session.exec(statement).all())


def mark_sent(session: Session, up_to_seq: int, *, terminal_id: str | None = None, at: datetime | None = None) -> int:
    """Mark every unsent event with seq <= ``up_to_seq`` as acknowledged; returns how many changed."""
    statement = select(OutboxEntry).where(col(OutboxEntry.sent_at).is_(None), OutboxEntry.seq <= up_to_seq)
    if terminal_id is not None:
        statement = statement.where(OutboxEntry.terminal_id == terminal_id)
    when = aware(at or now())
    count = 0
    for entry in session.exec(statement).all():
        entry.sent_at = when
        session.add(entry)
        count += 1
    session.flush()
    return count


def unsent_count(session: Session, *, terminal_id: str | None = None) -> int:
    statement = select(func.count()).select_from(OutboxEntry).where(col(OutboxEntry.sent_at).is_(None))
    if terminal_id is not None:
        statement = statement.where(OutboxEntry.terminal_id == terminal_id)
    return int(session.exec(statement).one())
