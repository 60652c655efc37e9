"""The keyboard-wedge classifier: a scanner's burst vs. a person typing, told apart by key timing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pos_app.terminal.wedge import DEFAULT_MAX_GAP_S, WedgeClassifier

CODE = "134567890123456789"


def feed(classifier: WedgeClassifier, text: str, start: float, gap: float) -> float:
    at = start
    for char in text:
        classifier.key(char, at)
        at += gap
    return at


def test_scanner_burst_is_a_scan():
    wedge = WedgeClassifier()
    end = feed(wedge, CODE, 10.0, 0.004)
    line = wedge.enter(end)
    assert line.source == "scanner"
    assert line.text == CODE
    assert line.burst_length == len(CODE)


def test_slow_typing_of_the_same_digits_is_typed():
    wedge = WedgeClassifier()
    end = feed(wedge, CODE, 10.0, 0.15)
    line = wedge.enter(end)
    assert line.source == "typed"
    assert line.text == CODE


def test_short_fast_line_is_typed():
    wedge = WedgeClassifier()
    end = feed(wedge, "1250", 0.0, 0.002)
    assert wedge.enter(end).source == "typed"


def test_one_slow_gap_in_the_middle_makes_it_typed():
    wedge = WedgeClassifier()
    at = feed(wedge, CODE[:9], 0.0, 0.005)
    at = feed(wedge, CODE[9:], at + 0.4, 0.005)
    line = wedge.enter(at)
    assert line.source == "typed"
    assert line.burst_length == len(CODE) - 9


def test_late_enter_is_typed():
    wedge = WedgeClassifier()
    end = feed(wedge, CODE, 0.0, 0.004)
    assert wedge.enter(end + 1.0).source == "typed"


def test_split_burst_separates_typed_amount_from_scanned_code():
    wedge = WedgeClassifier()
    at = feed(wedge, "12.5", 0.0, 0.3)
    at = feed(wedge, CODE, at + 0.5, 0.003)
    assert wedge.split_burst(at) == ("12.5", CODE)


def test_split_burst_none_when_only_typing():
    wedge = WedgeClassifier()
    at = feed(wedge, "12.50", 0.0, 0.2)
    assert wedge.split_burst(at) is None


def test_enter_resets_and_backspace_removes():
    wedge = WedgeClassifier()
    feed(wedge, "123", 0.0, 0.01)
    wedge.backspace()
    assert wedge.text == "12"
    wedge.enter(1.0)
    assert wedge.text == ""


@given(
    code=st.text(alphabet="0123456789", min_size=16, max_size=24),
    gap=st.floats(min_value=0.0005, max_value=DEFAULT_MAX_GAP_S * 0.9),
)
def test_any_fast_burst_of_payment_code_length_is_a_scan(code: str, gap: float):
    wedge = WedgeClassifier()
    end = feed(wedge, code, 100.0, gap)
    assert wedge.enter(end - gap + gap * 0.5).source == "scanner"


@given(
    code=st.text(alphabet="0123456789", min_size=1, max_size=24),
    gap=st.floats(min_value=DEFAULT_MAX_GAP_S * 1.5, max_value=2.0),
)
def test_any_human_paced_line_is_typed(code: str, gap: float):
    wedge = WedgeClassifier()
    end = feed(wedge, code, 100.0, gap)
    assert wedge.enter(end).source == "typed"
