"""The payment state machine of DESIGN.md §5: one transition table, used by the journal and the engine.

States only move forward. A target equal to the current state is a harmless repeat (a duplicated
notification, a second poll); callers use :func:`advance` to tell a repeat from a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pos_app.domain.errors import IllegalTransition


class PaymentState(StrEnum):
    CREATED = "CREATED"
    AWAITING_SCAN = "AWAITING_SCAN"  # native QR shown, not yet paid
    SUBMITTED = "SUBMITTED"  # micropay sent to the gateway
    USER_PAYING = "USER_PAYING"  # customer confirming / typing the password
    UNKNOWN = "UNKNOWN"  # a call's outcome is not known (timeout, 5xx, SYSTEMERROR, 10003/20000)
    PAID = "PAID"
    FAILED = "FAILED"
    CLOSED = "CLOSED"  # unpaid and closed (native expiry, cancel before payment)
    REVERSED = "REVERSED"  # micropay reversed/cancelled by us (money returned if it had moved)
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


S = PaymentState
_PENDING_OUTCOMES = frozenset({S.PAID, S.FAILED, S.CLOSED, S.REVERSED, S.UNKNOWN})

#: The one transition table. Keys are the current state; values the states it may move to.
TRANSITIONS: Mapping[PaymentState, frozenset[PaymentState]] = {
    S.CREATED: frozenset({S.AWAITING_SCAN, S.SUBMITTED, S.PAID, S.FAILED, S.CLOSED, S.UNKNOWN}),
    S.AWAITING_SCAN: frozenset({S.USER_PAYING} | _PENDING_OUTCOMES - {S.REVERSED}),
    S.SUBMITTED: frozenset({S.USER_PAYING} | _PENDING_OUTCOMES),
    S.USER_PAYING: _PENDING_OUTCOMES,
    S.UNKNOWN: frozenset({S.AWAITING_SCAN, S.USER_PAYING, S.PAID, S.FAILED, S.CLOSED, S.REVERSED}),
    # A same-day void of a paid wallet payment is a reverse/cancel that returns the money.
    S.PAID: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.REVERSED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FAILED: frozenset(),
    S.CLOSED: frozenset(),
    S.REVERSED: frozenset(),
    S.REFUNDED: frozenset(),
}

#: Nothing can happen to these any more.
FINAL_STATES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
#: The payment outcome is known (money moved or definitely did not); refunds may still follow.
SETTLED_STATES = FINAL_STATES | {S.PAID, S.PARTIALLY_REFUNDED}
#: The customer's money is with the merchant (fully or partly).
MONEY_IN_STATES = frozenset({S.PAID, S.PARTIALLY_REFUNDED})


def is_final(state: PaymentState) -> bool:
    return state in FINAL_STATES


def is_settled(state: PaymentState) -> bool:
    """True when the outcome of the payment itself is known; False means it still needs settling."""
    return state in SETTLED_STATES


def can_transition(current: PaymentState, target: PaymentState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: PaymentState, target: PaymentState) -> PaymentState:
    """Return ``target`` if the move is allowed, else raise IllegalTransition."""
    if not can_transition(current, target):
        raise IllegalTransition(current.value, target.value)
    return target


def advance(current: PaymentState, target: PaymentState) -> bool:
    """Apply-or-ignore: True if ``current → target`` is a real move, False for a harmless repeat.

    Raises IllegalTransition for a move backwards or out of a final state.
    """
    if current == target and not can_transition(current, target):
        return False
    check_transition(current, target)
    return True


class RefundState(StrEnum):
    PENDING = "PENDING"  # created locally, not yet answered
    PROCESSING = "PROCESSING"  # accepted by the gateway, money not yet back
    UNKNOWN = "UNKNOWN"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # CLOSED / ABNORMAL / definite refusal


REFUND_TRANSITIONS: Mapping[RefundState, frozenset[RefundState]] = {
    RefundState.PENDING: frozenset(
        {RefundState.PROCESSING, RefundState.UNKNOWN, RefundState.SUCCESS, RefundState.FAILED}
    ),
    RefundState.PROCESSING: frozenset({RefundState.SUCCESS, RefundState.FAILED, RefundState.UNKNOWN}),
    RefundState.UNKNOWN: frozenset({RefundState.PROCESSING, RefundState.SUCCESS, RefundState.FAILED}),
    RefundState.SUCCESS: frozenset(),
    RefundState.FAILED: frozenset(),
}


def advance_refund(current: RefundState, target: RefundState) -> bool:
    if current == target:
        return False
    if target not in REFUND_TRANSITIONS[current]:
        raise IllegalTransition(current.value, target.value)
    return True
