"""Which wallet a scanned payment code (付款码) belongs to, decided before any network call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pos_app.domain.errors import AuthCodeError


class Channel(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    CASH = "cash"

    @property
    def label(self) -> str:
        return {"wechat": "WeChat Pay", "alipay": "Alipay", "cash": "Cash"}[self.value]


class PaymentMode(StrEnum):
    NATIVE = "native"  # we show a QR, the customer scans it
    MICROPAY = "micropay"  # we scan the customer's payment code
    CASH = "cash"
    # One code for every wallet (聚合码): the engine's page learns the wallet when the phone opens it.
    ONE_QR = "one_qr"
    # The till's printed code (台卡): the customer typed the amount; the engine created the order.
    STORE_QR = "store_qr"


WECHAT_CODE = re.compile(r"1[0-5]\d{16}")
ALIPAY_CODE = re.compile(r"(2[5-9]|30)\d{14,22}")
# Scanners in keyboard-wedge mode add CR, LF or TAB; some add spaces between digit groups.
_SCANNER_NOISE = re.compile(r"[\s\u3000]+")


@dataclass(frozen=True, slots=True)
class RoutedCode:
    channel: Channel
    auth_code: str

    @property
    def masked(self) -> str:
        return mask_code(self.auth_code)


def clean_scanned(raw: str) -> str:
    return _SCANNER_NOISE.sub("", raw)


def route_auth_code(raw: str) -> RoutedCode:
    """Route a scanned code to WeChat or Alipay, or refuse it with a message a cashier understands."""
    code = clean_scanned(raw)
    if not code:
        raise AuthCodeError("Nothing was scanned — scan the customer's payment code again.")
    if not code.isdigit() or not code.isascii():
        raise AuthCodeError(
            "That is not a payment code — ask the customer to open the payment code (付款码) in WeChat or Alipay."
        )
    if WECHAT_CODE.fullmatch(code):
        return RoutedCode(Channel.WECHAT, code)
    if ALIPAY_CODE.fullmatch(code):
        return RoutedCode(Channel.ALIPAY, code)
    if code.startswith("62") and len(code) == 19:
        raise AuthCodeError("UnionPay codes are not accepted here — ask for WeChat Pay or Alipay.")
    raise AuthCodeError(
        "Code ending {last4} is not a WeChat or Alipay payment code — ask the customer to show it again.",
        last4=code[-4:],
    )


def mask_code(code: str) -> str:
    """Payment codes are bearer tokens for about a minute: show and log only the last 4 digits."""
    if len(code) <= 4:
        return "*" * len(code)
    return "*" * (len(code) - 4) + code[-4:]
