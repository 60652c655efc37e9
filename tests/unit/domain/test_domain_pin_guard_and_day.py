"""Pure rules: the wait after wrong PINs and the lockout, and which business day is open after a Z."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pos_app.domain.business_day import open_business_day
from pos_app.domain.pin_guard import LOCKOUT_AFTER, MAX_WAIT_S, is_locked_out, seconds_to_wait, wait_after

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_three_free_tries_then_a_doubling_wait_capped() -> None:
    assert [wait_after(n) for n in range(0, 11)] == [0, 0, 0, 0, 1, 2, 4, 8, 16, MAX_WAIT_S, MAX_WAIT_S]
    assert wait_after(1000) == MAX_WAIT_S
    assert not is_locked_out(LOCKOUT_AFTER - 1) and is_locked_out(LOCKOUT_AFTER) and LOCKOUT_AFTER == 10


def test_seconds_to_wait_counts_down_and_rounds_up() -> None:
    assert seconds_to_wait(0, None, T0) == 0
    assert seconds_to_wait(3, T0, T0) == 0
    assert seconds_to_wait(6, T0, T0) == 4
    assert seconds_to_wait(6, T0, T0 + timedelta(seconds=3.2)) == 1
    assert seconds_to_wait(6, T0, T0 + timedelta(seconds=4)) == 0


@given(st.integers(min_value=0, max_value=200))
def test_the_wait_never_shrinks_as_failures_grow(failures: int) -> None:
    assert 0 <= wait_after(failures) <= wait_after(failures + 1) <= MAX_WAIT_S


def test_after_a_close_the_next_open_day() -> None:
    day = date(2026, 11, 20)
    assert open_business_day(day, set()) == day
    assert open_business_day(day, {day}) == date(2026, 11, 21)
    assert open_business_day(day, {day, date(2026, 11, 21)}) == date(2026, 11, 22)
    assert open_business_day(day, {date(2026, 11, 19)}) == day
