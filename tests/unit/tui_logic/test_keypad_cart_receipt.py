from __future__ import annotations

from datetime import datetime

import pytest

from pos_app.domain.errors import AmountError, InputError
from pos_app.domain.routing import Channel
from pos_app.tui.logic.cart import Cart, make_line
from pos_app.tui.logic.errors import describe
from pos_app.tui.logic.keypad import AmountBuffer
from pos_app.tui.logic.receipt import ReceiptData, receipt_lines
from pos_app.tui.logic.text import countdown


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


def test_receipt_has_everything_and_masks_the_code():
    receipt = ReceiptData(
        store_name="Demo Store",
        terminal_name="Till 1",
        cashier="Demo Cashier",
        at=datetime(2026, 11, 22, 14, 5, 9),
        out_trade_no="P261122140509S00001T00100000001",
        amount_fen=1250,
        channel=Channel.WECHAT,
        subject="Coffee",
        transaction_id="4200000001",
        masked_auth_code="134567890123456789",
    )
    text = "\n".join(receipt_lines(receipt))
    for needle in ("Demo Store", "Demo Cashier", "2026-11-22 14:05:09", "¥12.50", "WeChat Pay", "4200000001"):
        assert needle in text
    assert "134567890123456789" not in text
    assert "**************6789" in text
    assert all(len(line) <= 42 for line in receipt_lines(receipt))


def test_countdown_and_error_words():
    assert countdown(75.2) == "1:16"
    assert countdown(-3) == "0:00"
    assert describe(ConnectionError()).text.startswith("Engine unreachable")
    assert "Traceback" not in describe(RuntimeError("boom")).text
    assert describe(RuntimeError("secret-key-material")).text.find("secret") == -1


def test_state_path_bridges_missed_steps_and_refuses_stale_views():
    from pos_app.domain.states import PaymentState as S
    from pos_app.tui.till import state_path

    assert state_path(S.CREATED, S.USER_PAYING, S.SUBMITTED) == [S.SUBMITTED, S.USER_PAYING]
    assert state_path(S.CREATED, S.USER_PAYING, S.AWAITING_SCAN) == [S.AWAITING_SCAN, S.USER_PAYING]
    assert state_path(S.CREATED, S.PAID) == [S.PAID]
    assert state_path(S.PAID, S.AWAITING_SCAN) is None
    assert state_path(S.CLOSED, S.PAID) is None
    assert state_path(S.AWAITING_SCAN, S.AWAITING_SCAN) == []
