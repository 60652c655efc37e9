"""Sales and their payment attempts: order numbers, the intent of a wallet payment, its states.

Each function takes a Session and **never commits**: the caller wraps a whole use case (sale + lines
+ attempt + event + outbox row) in one ``session_scope`` so it is written completely or not at all.
Every change appends an event carrying the cashier's name and a snapshot of the sale after it (see
:mod:`pos_app.journal.snapshots`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from pos_app.domain.errors import AmountError, InputError
from pos_app.domain.ids import make_out_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState, advance
from pos_app.journal.clock import aware, now
from pos_app.journal.days import open_business_day
from pos_app.journal.drawer import current_shift
from pos_app.journal.errors import JournalError
from pos_app.journal.events import append_event, next_seq
from pos_app.journal.models import PaymentAttempt, Sale, SaleLine
from pos_app.journal.snapshots import SALE, sale_snapshot

#: Payment states whose outcome is not known yet.
UNSETTLED_STATES = tuple(state for state in PaymentState if state not in SETTLED_STATES)


@dataclass(frozen=True, slots=True)
class LineIn:
    """One item line as the cashier entered it."""

    name: str
    unit_fen: int
    qty: int = 1

    @property
    def amount_fen(self) -> int:
        return self.unit_fen * self.qty


@dataclass(frozen=True, slots=True)
class NewSale:
    """The rows a new sale was written as (so its first event's snapshot needs no read back)."""

    sale: Sale
    lines: list[SaleLine]
    attempt: PaymentAttempt


def new_out_trade_no(session: Session, *, store_id: str, terminal_id: str, at: datetime) -> str:
    """A fresh out_trade_no from the durable "trade" counter (commit it with the sale that uses it)."""
    seq = next_seq(session, terminal_id, "trade")
    return make_out_trade_no(store=store_id, terminal=terminal_id, seq=seq, at=aware(at))


def sale_amount_fen(amount_fen: int | None, lines: Sequence[LineIn] | None) -> int:
    """The amount of a sale from ``amount_fen`` or its ``lines`` (which must agree), or AmountError."""
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


def require_sale(session: Session, out_trade_no: str) -> Sale:
    """The sale numbered ``out_trade_no``, or JournalError."""
    sale = get_sale(session, out_trade_no)
    if sale is None:
        raise JournalError(f"No sale {out_trade_no} in this journal.")
    return sale


def get_attempt(session: Session, out_trade_no: str) -> PaymentAttempt | None:
    return session.exec(select(PaymentAttempt).where(PaymentAttempt.out_trade_no == out_trade_no)).first()


def sale_lines(session: Session, sale: Sale) -> list[SaleLine]:
    statement = select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(col(SaleLine.line_no))
    return list(session.exec(statement).all())


def insert_sale(
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
    """Write a sale, its lines and its payment attempt in ``state``, booked to the open shift and the
    open business day (after a Z report: the next day). No event: the caller journals the sale with
    what else it wrote."""
    if not cashier:
        raise InputError("Every sale needs the cashier's name.")
    total = sale_amount_fen(amount_fen, lines)
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
        business_day=open_business_day(session, terminal_id, when),
        created_at=when,
        updated_at=when,
    )
    session.add(sale)
    session.flush()
    assert sale.id is not None
    line_rows = [
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
    session.add_all([*line_rows, attempt])
    return NewSale(sale, line_rows, attempt)


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
    new = insert_sale(
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


def non_final_attempts(session: Session) -> list[PaymentAttempt]:
    """Payments whose outcome is not known yet: to be resolved by asking the engine (on start too)."""
    statement = (
        select(PaymentAttempt).where(col(PaymentAttempt.state).in_(UNSETTLED_STATES)).order_by(col(PaymentAttempt.id))
    )
    return list(session.exec(statement).all())
