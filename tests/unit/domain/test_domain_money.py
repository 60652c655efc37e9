"""Money: cashier input parsing, formatting and the Alipay yuan form (integer fen, never float)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pos_app.domain.errors import AmountError
from pos_app.domain.money import DEFAULT_MAX_SALE_FEN, fen_to_yuan, format_fen, parse_amount, yuan_to_fen

valid_fen = st.integers(min_value=1, max_value=DEFAULT_MAX_SALE_FEN)
FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_fen_to_yuan_and_back_is_exact(fen: int) -> None:
    text = fen_to_yuan(fen)
    assert yuan_to_fen(text) == fen
    assert text.count(".") == 1 and len(text.split(".")[1]) == 2


@given(valid_fen)
def test_cashier_input_round_trips(fen: int) -> None:
    assert parse_amount(fen_to_yuan(fen)) == fen
    shown = format_fen(fen)
    if "," not in shown:  # what the till displays can be typed back in
        assert parse_amount(shown) == fen


@given(valid_fen)
@example(1)
@example(DEFAULT_MAX_SALE_FEN)
def test_full_width_digits_are_accepted(fen: int) -> None:
    assert parse_amount(fen_to_yuan(fen).translate(FULL_WIDTH)) == fen


@given(st.integers(min_value=1, max_value=10**9))
def test_short_decimals_and_whole_yuan(yuan: int) -> None:
    assert parse_amount(str(yuan), max_fen=10**12) == yuan * 100
    assert parse_amount(f"{yuan}.5", max_fen=10**12) == yuan * 100 + 50
    assert parse_amount(f"{yuan}.", max_fen=10**12) == yuan * 100


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12.3", 1230), ("¥12.30", 1230), ("￥0.01", 1), ("RMB 5", 500), (" 7.00 \n", 700), ("+3", 300), ("0.5", 50)],
)
def test_accepted_forms(text: str, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Enter an amount"),
        ("   ", "Enter an amount"),
        ("-1", "negative"),
        ("−1", "negative"),
        ("¥-1", "negative"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("1.234", "At most 2 decimals"),
        ("NaN", "not an amount"),
        ("inf", "not an amount"),
        ("1e3", "Exponent"),
        ("1E-2", "Exponent"),
        ("1,000", "separators"),
        ("1 000", "separators"),
        ("1_000", "separators"),
        (".5", "digit before the decimal point"),
        ("12.3.4", "not an amount"),
        ("abc", "not an amount"),
        ("٣", "not an amount"),
        ("1.٣", "not an amount"),  # other scripts' digits: NFKC does not fold them, we must refuse
    ],
)
def test_refusals_say_why(text: str, reason: str) -> None:
    with pytest.raises(AmountError, match=reason):
        parse_amount(text)


@given(st.integers(min_value=DEFAULT_MAX_SALE_FEN + 1, max_value=10**14))
def test_over_the_limit_is_refused(fen: int) -> None:
    with pytest.raises(AmountError, match="over the per-sale limit"):
        parse_amount(fen_to_yuan(fen))


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_the_limit_is_configurable(fen: int, limit: int) -> None:
    if fen <= limit:
        assert parse_amount(fen_to_yuan(fen), max_fen=limit) == fen
    else:
        with pytest.raises(AmountError):
            parse_amount(fen_to_yuan(fen), max_fen=limit)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=0, max_value=1000))
def test_three_decimal_places_are_never_silently_rounded(value: object) -> None:
    text = f"{value:.3f}"
    if text.endswith("0"):
        return
    with pytest.raises(AmountError):
        parse_amount(text)


@given(st.text(max_size=12))
def test_parse_never_crashes_and_never_returns_a_non_positive(text: str) -> None:
    try:
        fen = parse_amount(text)
    except AmountError:
        return
    assert isinstance(fen, int) and 0 < fen <= DEFAULT_MAX_SALE_FEN


def test_format_fen() -> None:
    assert format_fen(1230) == "¥12.30"
    assert format_fen(1) == "¥0.01"
    assert format_fen(0) == "¥0.00"
    assert format_fen(123456789) == "¥1,234,567.89"
    assert format_fen(-100) == "-¥1.00"
    with pytest.raises(TypeError):
        format_fen(12.3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_fen(True)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_fen_is_exact(fen: int) -> None:
    text = format_fen(fen)
    sign = -1 if text.startswith("-") else 1
    assert sign * yuan_to_fen(text.lstrip("-").lstrip("¥").replace(",", "")) == fen


@pytest.mark.parametrize("text", ["", "١٢.٣٠", "12.345", "1e2", "¥1", "1,00", "--1", "abc"])
def test_yuan_to_fen_refuses_what_a_gateway_would_never_send(text: str) -> None:
    with pytest.raises(AmountError):
        yuan_to_fen(text)
