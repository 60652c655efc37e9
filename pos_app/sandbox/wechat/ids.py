"""New WeChat identifiers: transaction ids, refund ids, openids and QR code tokens.

Random (``secrets``) with the real gateway's prefixes and lengths, so a client's format checks see
what production sends.
"""

from __future__ import annotations

import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def _alphanumeric(n: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(n))


def new_transaction_id() -> str:
    return "4200" + _digits(24)


def new_refund_id() -> str:
    return "503" + _digits(26)


def new_openid() -> str:
    return "oSbx" + _alphanumeric(24)


def new_code_token(trade_type: str) -> str:
    """The order's code: the tail of a native ``code_url`` (12 characters) or a JSAPI prepay id (30)."""
    return _alphanumeric(12 if trade_type == "NATIVE" else 30)


def new_prepay_id(china_stamp: str) -> str:
    """A JSAPI prepay id: ``wx`` + the China-time ``YYYYMMDDhhmmss`` + 20 random characters (36 in all)."""
    return "wx" + china_stamp + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(20))


def new_notification_nonce() -> str:
    return _alphanumeric(12)
