"""Staff roles and cash counting (pos_app.domain.staff, pos_app.domain.cash): pure rules, no journal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.domain.cash import DENOMINATIONS_FEN, change_due, count_total
from pos_app.domain.errors import AmountError
from pos_app.domain.staff import Action, Role, may


def test_cashier_cannot_refund_void_or_close_the_day() -> None:
    for action in (Action.REFUND, Action.VOID, Action.CASH_OUT, Action.Z_REPORT, Action.SIGN_OFF):
        assert not may(Role.CASHIER, action)
        assert may(Role.MANAGER, action)
    assert may(Role.CASHIER, Action.SELL) and may(Role.CASHIER, Action.CLOSE_SHIFT)


@given(st.dictionaries(st.sampled_from(DENOMINATIONS_FEN), st.integers(0, 500)))
def test_count_total_is_the_sum(counts: dict[int, int]) -> None:
    assert count_total(counts) == sum(d * n for d, n in counts.items())


def test_count_refuses_unknown_denominations_and_negative_counts() -> None:
    with pytest.raises(AmountError, match="not a Renminbi"):
        count_total({300: 1})
    with pytest.raises(AmountError, match="negative"):
        count_total({100: -1})


def test_change() -> None:
    assert change_due(2350, 5000) == 2650
    assert change_due(2350, 2350) == 0
    with pytest.raises(AmountError, match="less than"):
        change_due(2350, 2000)
