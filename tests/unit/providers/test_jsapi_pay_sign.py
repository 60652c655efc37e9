"""The WeChat JSAPI bridge ``paySign`` (spec wechatpay-jsapi.md §4, §7): the spec's self-made vector
byte for byte, and the negative cases that must change the signature."""

from __future__ import annotations

from typing import Any

import pytest

from pos_app.engine.crypto.keys import parse_private_key
from pos_app.engine.crypto.rsa import SignatureInvalid, sign_sha256_rsa, verify_sha256_rsa
from pos_app.engine.providers.wechatpay.jsapi import bridge_pay, pay_sign_message

APP_ID = "wx8888888888888888"
TIME_STAMP = 1414561699
NONCE = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
PREPAY_ID = "wx201410272009395522657a690389285100"
MESSAGE = (
    b"wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
    b"prepay_id=wx201410272009395522657a690389285100\n"
)
EXPECTED = (
    "mIDSHc+67tlJlgnSkB1BD1+B08suWtz70aoSI6wwGE+0FC5qnMkKFLn/yl0aFCeD+vrTrztwbyAhgb+RuVEMk3N/d2VYVR+uWt27BqR58mWd"
    "lYufNvBwmMwCLXYyDrnWXFUF5OYnVX8ey3NouScOWlCAr7QzbmL7pja1MbuupT7JfIJbI5rzDcVFvFpKbLX93nG5eJcYomKf2Ubiwu0/ZdlL"
    "Ox848ToI0US0g9g7I0jBUB7tx1eDV+InsYDvHSkGdNjz2xvg3lx7ZaPgIuTRQzf8o5W2RVndInqYfRdyDn0pmqILM76lUlTAlub38D4oViu5"
    "To7WihblSEIa+O47Bg=="
)


def test_message_is_four_lines_each_ending_in_newline() -> None:
    message = pay_sign_message(APP_ID, str(TIME_STAMP), NONCE, f"prepay_id={PREPAY_ID}")
    assert message == MESSAGE
    assert len(message) == 110


def test_pay_sign_reproduces_the_spec_vector(vectors: dict[str, Any]) -> None:
    key = parse_private_key(vectors["wechatpay_request_signature"]["private_key_pem"])
    pay = bridge_pay(key, app_id=APP_ID, prepay_id=PREPAY_ID, time_stamp=TIME_STAMP, nonce_str=NONCE)
    assert pay.pay_sign == EXPECTED
    assert pay.as_bridge() == {
        "appId": APP_ID,
        "timeStamp": "1414561699",
        "nonceStr": NONCE,
        "package": "prepay_id=" + PREPAY_ID,
        "signType": "RSA",
        "paySign": EXPECTED,
    }
    # Verifies with the merchant's public key over exactly the documented bytes.
    verify_sha256_rsa(key.public_key(), MESSAGE, pay.pay_sign)


@pytest.mark.parametrize(
    "wrong",
    [
        MESSAGE[:-1],  # no trailing newline
        MESSAGE.replace(b"1414561699", b"1414561699000"),  # milliseconds
        MESSAGE + b"RSA\n",  # signType signed too
        MESSAGE.replace(APP_ID.encode(), b"wx9999999999999999"),  # another appid
    ],
)
def test_each_documented_mistake_fails_the_check(vectors: dict[str, Any], wrong: bytes) -> None:
    key = parse_private_key(vectors["wechatpay_request_signature"]["private_key_pem"])
    assert sign_sha256_rsa(key, wrong) != EXPECTED
    with pytest.raises(SignatureInvalid):
        verify_sha256_rsa(key.public_key(), wrong, EXPECTED)


def test_milliseconds_are_refused(vectors: dict[str, Any]) -> None:
    key = parse_private_key(vectors["wechatpay_request_signature"]["private_key_pem"])
    with pytest.raises(ValueError, match="seconds"):
        bridge_pay(key, app_id=APP_ID, prepay_id=PREPAY_ID, time_stamp=TIME_STAMP * 1000, nonce_str=NONCE)
