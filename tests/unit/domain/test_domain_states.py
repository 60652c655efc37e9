"""The payment state machine: one table, forward only, final states are final."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.domain.errors import IllegalTransition
from pos_app.domain.states import (
    FINAL_STATES,
    MONEY_IN_STATES,
    REFUND_TRANSITIONS,
    SETTLED_STATES,
    TRANSITIONS,
    PaymentState,
    RefundState,
    advance,
    advance_refund,
    can_transition,
    check_transition,
    is_final,
    is_settled,
)

S = PaymentState
states = st.sampled_from(list(PaymentState))
refund_states = st.sampled_from(list(RefundState))


def reachable_from(start: PaymentState) -> set[PaymentState]:
    seen, queue = {start}, deque([start])
    while queue:
        for target in TRANSITIONS[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def test_the_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(PaymentState)


def test_final_states_are_the_designed_ones() -> None:
    assert {S.FAILED, S.CLOSED, S.REVERSED, S.REFUNDED} == FINAL_STATES
    assert {S.PAID, S.PARTIALLY_REFUNDED} == SETTLED_STATES - FINAL_STATES
    assert MONEY_IN_STATES <= SETTLED_STATES


def test_every_state_and_every_table_entry_is_reachable_from_created() -> None:
    assert reachable_from(S.CREATED) == set(PaymentState)
    reachable = reachable_from(S.CREATED)
    for current, targets in TRANSITIONS.items():
        assert current in reachable, f"{current} is in the table but unreachable"
        assert targets <= reachable


@given(st.sampled_from(sorted(FINAL_STATES)), states)
def test_no_path_out_of_a_final_state(final: PaymentState, target: PaymentState) -> None:
    assert reachable_from(final) == {final}
    assert is_final(final) and is_settled(final)
    if target == final:
        assert advance(final, target) is False  # a duplicate notification is harmless
    else:
        with pytest.raises(IllegalTransition):
            advance(final, target)


@given(states, states)
def test_advance_semantics(current: PaymentState, target: PaymentState) -> None:
    if target in TRANSITIONS[current]:
        assert advance(current, target) is True
        assert check_transition(current, target) is target
    elif current == target:
        assert advance(current, target) is False
    else:
        with pytest.raises(IllegalTransition) as info:
            advance(current, target)
        assert info.value.current == current.value and info.value.target == target.value
        assert not can_transition(current, target)


@given(st.lists(states, max_size=30))
def test_random_walks_only_move_forward(targets: list[PaymentState]) -> None:
    """Apply-or-ignore a random stream of updates: the state never returns to one it left."""
    current, history = S.CREATED, [S.CREATED]
    for target in targets:
        try:
            moved = advance(current, target)
        except IllegalTransition:
            continue
        if moved:
            current = target
            if current != history[-1]:
                history.append(current)
    # Only the unknown-result detours (UNKNOWN -> AWAITING_SCAN/USER_PAYING) may revisit a state.
    loops = {S.AWAITING_SCAN, S.USER_PAYING, S.UNKNOWN}
    revisited = {s for s in history if history.count(s) > 1}
    assert revisited <= loops
    assert not (set(history[:-1]) & FINAL_STATES)


def test_paid_money_moves_only_through_refunds_or_a_void() -> None:
    assert TRANSITIONS[S.PAID] == {S.PARTIALLY_REFUNDED, S.REFUNDED, S.REVERSED}
    assert advance(S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED) is True  # a second partial refund
    for backwards in (S.CREATED, S.USER_PAYING, S.UNKNOWN, S.FAILED):
        with pytest.raises(IllegalTransition):
            advance(S.PAID, backwards)


def test_messages_are_readable() -> None:
    with pytest.raises(IllegalTransition, match="cannot go from CLOSED to PAID"):
        check_transition(S.CLOSED, S.PAID)


@given(refund_states, refund_states)
def test_refund_advance(current: RefundState, target: RefundState) -> None:
    if current == target:
        assert advance_refund(current, target) is False
    elif target in REFUND_TRANSITIONS[current]:
        assert advance_refund(current, target) is True
    else:
        with pytest.raises(IllegalTransition):
            advance_refund(current, target)


def test_refund_final_states() -> None:
    assert REFUND_TRANSITIONS[RefundState.SUCCESS] == frozenset()
    assert REFUND_TRANSITIONS[RefundState.FAILED] == frozenset()
    assert set(REFUND_TRANSITIONS) == set(RefundState)
