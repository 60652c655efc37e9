"""The checkout's pure pieces: the amount keypad, the cart, countdowns and the cashier's error words."""

from __future__ import annotations

import pytest

from pos_app.domain.errors import AmountError, InputError
from pos_app.terminal.cart import Cart, make_line
from pos_app.terminal.error_words import describe
from pos_app.terminal.keypad import AmountBuffer
from pos_app.terminal.text import countdown


def press_all(buffer: AmountBuffer, keys: list[str]) -> list[bool]:
    return [buffer.press(key) for key in keys]


def test_keypad_builds_amount_and_refuses_third_decimal_and_second_point():
    buffer = AmountBuffer()
    assert press_all(buffer, list("12.345")) == [True, True, True, True, True, False]
    assert buffer.text == "12.34"
    assert not buffer.press(".")
    assert buffer.fen() == 1234
    assert buffer.press("backspace") and buffer.text == "12.3"
    assert buffer.fen() == 1230


def test_keypad_leading_point_and_zero():
    buffer = AmountBuffer()
    buffer.press(".")
    buffer.press("5")
    assert buffer.text == "0.5" and buffer.fen() == 50
    buffer.clear()
    buffer.press("0")
    buffer.press("7")
    assert buffer.text == "7"


def test_keypad_empty_or_zero_is_not_an_amount():
    with pytest.raises(AmountError):
        AmountBuffer().fen()
    buffer = AmountBuffer("0.00")
    with pytest.raises(AmountError):
        buffer.fen()


def test_keypad_limit_comes_from_parse_amount():
    with pytest.raises(AmountError, match="limit"):
        AmountBuffer("500").fen(max_fen=10_000)


def test_cart_total_subject_and_limit():
    cart = Cart()
    cart.add(make_line("Coffee", "2", "18.50"))
    cart.add(make_line("Bagel", "", "9"))
    assert cart.total_fen == 2 * 1850 + 900
    assert cart.subject("x") == "Coffee +1 more"
    with pytest.raises(AmountError):
        cart.add(make_line("Gold", "1", "90000"), max_fen=10_000)
    assert cart.remove_last() is not None and cart.total_fen == 3700


@pytest.mark.parametrize(("desc", "qty", "price"), [("", "1", "1"), ("Tea", "x", "1"), ("Tea", "0", "1")])
def test_bad_lines_are_refused(desc: str, qty: str, price: str):
    with pytest.raises(InputError):
        make_line(desc, qty, price)


def test_countdown_and_error_words():
    assert countdown(75.2) == "1:16"
    assert countdown(-3) == "0:00"
    assert describe(ConnectionError()).text.startswith("Engine unreachable")
    assert "Traceback" not in describe(RuntimeError("boom")).text
    assert describe(RuntimeError("secret-key-material")).text.find("secret") == -1
