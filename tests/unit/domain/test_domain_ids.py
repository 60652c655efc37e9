"""Order numbers: gateway-safe, unique across terminals and restarts, sortable by time, parseable."""

from __future__ import annotations

import string
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.domain.errors import IdError
from pos_app.domain.ids import (
    GATEWAY_SAFE,
    MAX_SEQ,
    IdKind,
    TradeNo,
    check_gateway_safe,
    check_issued_by,
    make_out_refund_no,
    make_out_trade_no,
    normalise_code,
    parse_trade_no,
)

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59))
codes = st.text(alphabet=string.ascii_letters + string.digits, min_size=1)
store_codes = codes.filter(lambda c: len(c) <= 6)
terminal_codes = codes.filter(lambda c: len(c) <= 4)
seqs = st.integers(min_value=1, max_value=MAX_SEQ)


@given(times, store_codes, terminal_codes, seqs)
def test_numbers_are_gateway_safe(at: datetime, store: str, terminal: str, seq: int) -> None:
    for make in (make_out_trade_no, make_out_refund_no):
        number = make(store=store, terminal=terminal, seq=seq, at=at)
        assert GATEWAY_SAFE.fullmatch(number)
        assert 6 <= len(number) <= 32
        assert set(number) <= set(string.digits + string.ascii_uppercase)
        assert check_gateway_safe(number) == number


@given(times, store_codes, terminal_codes, seqs)
def test_parse_round_trip(at: datetime, store: str, terminal: str, seq: int) -> None:
    number = make_out_trade_no(store=store, terminal=terminal, seq=seq, at=at)
    parsed = parse_trade_no(number)
    assert parsed == TradeNo(
        IdKind.PAYMENT, at.replace(microsecond=0), store.upper().rjust(6, "0"), terminal.upper().rjust(4, "0"), seq
    )
    assert str(parsed) == number
    assert parse_trade_no(make_out_refund_no(store=store, terminal=terminal, seq=seq, at=at)).kind is IdKind.REFUND


@given(
    st.sets(
        st.tuples(st.sampled_from(["S1", "S2", "00S3"]), st.integers(1, 40).map(str), seqs), min_size=2, max_size=200
    ),
    times,
)
def test_unique_across_terminals_even_at_the_same_second(keys: set[tuple[str, str, int]], at: datetime) -> None:
    """(store, terminal, seq) is unique by construction; the clock adds nothing to uniqueness."""
    numbers = {make_out_trade_no(store=s, terminal=t, seq=n, at=at) for s, t, n in keys}
    assert len(numbers) == len(keys)


@given(st.lists(times, min_size=1, max_size=30), st.integers(1, 20))
def test_unique_across_restarts_with_a_durable_sequence(restart_times: list[datetime], per_run: int) -> None:
    """Each run continues the durable counter; a clock that goes backwards cannot produce a repeat."""
    seq, numbers = 0, []
    for at in restart_times:
        for _ in range(per_run):
            seq += 1
            numbers.append(make_out_trade_no(store="S00001", terminal="T001", seq=seq, at=at))
    assert len(set(numbers)) == len(numbers)


@given(times, times, seqs, seqs)
def test_sortable_by_time(first: datetime, second: datetime, seq_a: int, seq_b: int) -> None:
    a = make_out_trade_no(store="S00001", terminal="T001", seq=seq_a, at=first)
    b = make_out_trade_no(store="S00001", terminal="T001", seq=seq_b, at=second)
    first_s, second_s = first.replace(microsecond=0), second.replace(microsecond=0)
    if first_s < second_s:
        assert a < b
    elif first_s == second_s:
        assert (a < b) == (seq_a < seq_b)


@pytest.mark.parametrize("seq", [0, -1, MAX_SEQ + 1])
def test_sequence_out_of_range_is_refused(seq: int) -> None:
    with pytest.raises(IdError, match="outside"):
        make_out_trade_no(store="S1", terminal="T1", seq=seq, at=datetime(2026, 1, 1))


@pytest.mark.parametrize(("raw", "width"), [("", 4), ("TOOLONG", 4), ("A-1", 6), ("店1", 6), (" ", 6)])
def test_bad_codes_are_refused(raw: str, width: int) -> None:
    with pytest.raises(IdError):
        normalise_code(raw, width, "store")


def test_codes_are_normalised() -> None:
    assert normalise_code(" t1 ", 4, "terminal") == "00T1"
    assert normalise_code("s00001", 6, "store") == "S00001"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "X261122184907S00001T00100000042",  # unknown kind
        "P261122184907S00001T0010000004",  # one digit short
        "P261322184907S00001T00100000042",  # month 13
        "P261122254907S00001T00100000042",  # hour 25
        "p261122184907S00001T00100000042",  # lower-case kind
        "P٢٦١١٢٢184907S00001T00100000042",  # other scripts' digits
    ],
)
def test_parse_refuses_foreign_numbers(text: str) -> None:
    with pytest.raises(IdError):
        parse_trade_no(text)


@pytest.mark.parametrize("text", ["", "12345", "a" * 33, "ABC-123", "订单123456", "ABC 1234"])
def test_gateway_safety_check(text: str) -> None:
    with pytest.raises(IdError):
        check_gateway_safe(text)


@pytest.mark.parametrize("year", [1999, 2100])
def test_years_outside_the_two_digit_window_are_refused(year: int) -> None:
    with pytest.raises(IdError, match="2000 to 2099"):
        make_out_trade_no(store="S1", terminal="T1", seq=1, at=datetime(year, 6, 1))


@given(times, store_codes, terminal_codes, seqs)
def test_a_terminal_owns_the_numbers_it_makes(at: datetime, store: str, terminal: str, seq: int) -> None:
    number = make_out_trade_no(store=store, terminal=terminal, seq=seq, at=at)
    assert check_issued_by(number, kind=IdKind.PAYMENT, store=store, terminal=terminal).seq == seq


@pytest.mark.parametrize(
    ("number", "store", "terminal"),
    [
        ("P261122184907S00001T00200000042", "S00001", "T001"),  # another terminal of the store
        ("P261122184907S00002T00100000042", "S00001", "T001"),  # the same terminal code, another store
        ("R261122184907S00001T00100000042", "S00001", "T001"),  # a refund number, not an order's
        ("PG00011234567890", "S00001", "T001"),  # not a number this system makes
    ],
)
def test_a_number_of_someone_else_is_refused(number: str, store: str, terminal: str) -> None:
    with pytest.raises(IdError):
        check_issued_by(number, kind=IdKind.PAYMENT, store=store, terminal=terminal)
