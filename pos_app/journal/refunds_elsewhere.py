"""Refunds of this till's sales made elsewhere — in the manager console, through the engine — that
the till hears of afterwards (its event stream, replayed after the link was down).

The till did not start them, so its journal has no row yet: :func:`record_refund_elsewhere` writes
one (marked with its ``origin``) under the engine's out_refund_no, then
:func:`pos_app.journal.record_refund_state` moves it like any wallet refund, so the sale's
refunded_fen and state, the X/Z figures and the journal upload all carry it. Never commits (see
:mod:`pos_app.journal.sales`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from pos_app.domain.states import MONEY_IN_STATES, RefundState
from pos_app.journal.models import Refund, Sale
from pos_app.journal.refunds import PLAIN_REFUND, get_refund, refundable_fen, write_refund

#: ``Refund.origin`` of a refund made at the till, and of one made in the manager console.
TILL, CONSOLE = "till", "console"
#: How the engine names the operator of a console refund: "console:<user>".
CONSOLE_OPERATOR_PREFIX = "console:"


def origin_of(operator: str) -> str:
    """Where a refund the till did not make was made, from the operator the engine recorded."""
    return CONSOLE if operator.startswith(CONSOLE_OPERATOR_PREFIX) else "elsewhere"


def can_record_elsewhere(session: Session, sale: Sale, out_refund_no: str, amount_fen: int) -> bool:
    """True when a refund made elsewhere fits this sale: not journaled yet, money in, amount left."""
    if get_refund(session, out_refund_no) is not None:
        return False
    if sale.state not in MONEY_IN_STATES or isinstance(amount_fen, bool) or amount_fen <= 0:
        return False
    return amount_fen <= refundable_fen(session, sale)


def record_refund_elsewhere(
    session: Session,
    sale: Sale,
    *,
    out_refund_no: str,
    amount_fen: int,
    operator: str,
    approved_by: str,
    reason: str,
    at: datetime,
) -> Refund:
    """Journal a refund of ``sale`` made elsewhere, PENDING (then move it with record_refund_state).

    The caller checks :func:`can_record_elsewhere` first. ``operator`` is who made it as the engine
    says (e.g. "console:alice"); the event is a "refund.created" like the till's own, with ``origin``.
    """
    # The till's own writer: the same row, event and snapshot, with the origin set before the event
    # is written so the uploaded snapshot carries it.
    return write_refund(
        session, sale, amount_fen, cashier=operator[:64], approved_by=approved_by[:64], at=at, reason=reason,
        out_refund_no=out_refund_no, state=RefundState.PENDING, kind=PLAIN_REFUND,
        origin=origin_of(operator),
    )  # fmt: skip


def elsewhere_refunded(session: Session, out_trade_nos: list[str]) -> set[str]:
    """Of these sales, those with a refund made elsewhere (any state): the history marks them."""
    if not out_trade_nos:
        return set()
    statement = select(Refund.out_trade_no).where(col(Refund.out_trade_no).in_(out_trade_nos), Refund.origin != TILL)
    return set(session.exec(statement).all())
