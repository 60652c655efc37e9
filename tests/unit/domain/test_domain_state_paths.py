"""state_path: the forward walk the till journals when an engine answer skipped a step."""

from __future__ import annotations

from pos_app.domain.state_paths import state_path
from pos_app.domain.states import TRANSITIONS
from pos_app.domain.states import PaymentState as S


def test_state_path_bridges_missed_steps_and_refuses_stale_views() -> None:
    assert state_path(S.CREATED, S.USER_PAYING, S.SUBMITTED) == [S.SUBMITTED, S.USER_PAYING]
    assert state_path(S.CREATED, S.USER_PAYING, S.AWAITING_SCAN) == [S.AWAITING_SCAN, S.USER_PAYING]
    assert state_path(S.CREATED, S.PAID) == [S.PAID]
    assert state_path(S.PAID, S.AWAITING_SCAN) is None
    assert state_path(S.CLOSED, S.PAID) is None
    assert state_path(S.AWAITING_SCAN, S.AWAITING_SCAN) == []


def test_unknown_is_a_step_only_when_it_is_the_target() -> None:
    assert state_path(S.CREATED, S.REVERSED, S.SUBMITTED) == [S.SUBMITTED, S.REVERSED]
    assert state_path(S.CREATED, S.UNKNOWN) == [S.UNKNOWN]


def test_every_walk_follows_the_transition_table() -> None:
    for current in S:
        for target in S:
            for prefer in (None, S.SUBMITTED, S.AWAITING_SCAN):
                path = state_path(current, target, prefer)
                if path is None:
                    continue
                for before, after in zip([current, *path], path, strict=False):
                    assert after in TRANSITIONS[before]
                assert path == [] or path[-1] == target
