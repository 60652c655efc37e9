"""The customer's wallet: payment codes (付款码) to scan and native QR codes to pay.

Payment codes (micropay/codepay/barcode pay)::

    code = issue_auth_code(store, "wechat", password_seconds=10, now=clock.now())
    result = consume_auth_code(store, "wechat", code, out_trade_no=otn, now=clock.now())
    if isinstance(result, AuthCodeRejection): ...   # UNKNOWN / EXPIRED / ALREADY_USED
    else: result.password_seconds, result.balance_fen, result.user_cancels, result.buyer_id ...

Native QR codes: each gateway registers the URL prefix of its QR codes with a handler that marks the
order paid (and sends its notification); :func:`pay_native` dispatches on the prefix::

    register_native_handler("weixin://wxpay/bizpayurl?pr=", "wechat", wechat_pay_handler)
    register_native_handler("https://qr.alipay.com/", "alipay", alipay_pay_handler)
    outcome = pay_native(ctx, "weixin://wxpay/bizpayurl?pr=abc", after_s=0, fail=None)

A handler receives ``(ctx, qr, PayRequest)`` and returns a :class:`PayOutcome`. ``after_s`` > 0 means
"the customer scanned now and confirms in ``after_s`` seconds": the handler records the order as
scanned/paying and completes it when ``ctx.now() >= request.pay_at`` (on query or from a ticker).
``fail`` is a reason the payment fails instead (see :data:`FAIL_REASONS`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pos_app.sandbox.store import SandboxStore

if TYPE_CHECKING:
    from pos_app.sandbox.context import SandboxContext

WalletChannel = Literal["wechat", "alipay"]

#: A payment code refreshes every minute in the wallet app; the sandbox accepts it this long.
AUTH_CODE_TTL_S = 60.0

WECHAT_AUTH_CODE = re.compile(r"1[0-5]\d{16}")
ALIPAY_AUTH_CODE = re.compile(r"(2[5-9]|30)\d{14,22}")

#: What `pay --fail REASON` understands. Each gateway maps them to its own wording.
FAIL_REASONS = ("cancel", "balance", "risk")


class AuthCodeRejection(StrEnum):
    UNKNOWN = "unknown"  # never issued by this wallet (or the wrong wallet's code)
    EXPIRED = "expired"  # older than AUTH_CODE_TTL_S
    ALREADY_USED = "already_used"  # used for another order


@dataclass(frozen=True, slots=True)
class AuthCodeScenario:
    """What the customer will do with this code, as the gateway needs to know it."""

    code: str
    channel: WalletChannel
    created_at: float
    expires_at: float
    password_seconds: float  # 0: password-free; else USERPAYING until created+this
    balance_fen: int | None  # None: enough for anything
    user_cancels: bool  # the customer cancels at the password prompt
    buyer_id: str  # stable per code: WeChat openid / Alipay buyer id
    used_by: str | None


def _random_digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _new_code(channel: WalletChannel) -> str:
    if channel == "wechat":
        return "1" + secrets.choice("012345") + _random_digits(16)
    # Alipay: 18 digits starting 28, the form its app shows most often (16–24 allowed).
    return "28" + _random_digits(16)


def _buyer_id(channel: WalletChannel) -> str:
    if channel == "wechat":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "oSbx" + "".join(secrets.choice(alphabet) for _ in range(24))
    return "2088" + _random_digits(12)


def issue_auth_code(
    store: SandboxStore,
    channel: WalletChannel,
    *,
    password_seconds: float = 0,
    balance_fen: int | None = None,
    expired: bool = False,
    user_cancels: bool = False,
    now: float,
) -> str:
    """A fresh one-use payment code for ``channel`` (WeChat 18 digits, Alipay 18 digits ``28…``)."""
    if channel not in ("wechat", "alipay"):
        raise ValueError(f"unknown wallet channel {channel!r}")
    if password_seconds < 0 or (balance_fen is not None and balance_fen < 0):
        raise ValueError("password_seconds and balance_fen must not be negative")
    expires_at = now - 1 if expired else now + AUTH_CODE_TTL_S
    created_at = now - AUTH_CODE_TTL_S - 1 if expired else now
    with store.transaction() as conn:
        while True:
            code = _new_code(channel)
            if conn.execute("SELECT 1 FROM auth_codes WHERE code = ?", (code,)).fetchone() is None:
                break
        conn.execute(
            "INSERT INTO auth_codes (code, channel, created_at, expires_at, password_seconds, balance_fen,"
            " user_cancels, buyer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                channel,
                created_at,
                expires_at,
                password_seconds,
                balance_fen,
                int(user_cancels),
                _buyer_id(channel),
            ),
        )
    return code


def _scenario(row: object) -> AuthCodeScenario:
    r = row  # sqlite3.Row
    return AuthCodeScenario(
        code=r["code"],  # type: ignore[index]
        channel=r["channel"],  # type: ignore[index]
        created_at=r["created_at"],  # type: ignore[index]
        expires_at=r["expires_at"],  # type: ignore[index]
        password_seconds=r["password_seconds"],  # type: ignore[index]
        balance_fen=r["balance_fen"],  # type: ignore[index]
        user_cancels=bool(r["user_cancels"]),  # type: ignore[index]
        buyer_id=r["buyer_id"],  # type: ignore[index]
        used_by=r["used_by"],  # type: ignore[index]
    )


def lookup_auth_code(store: SandboxStore, code: str) -> AuthCodeScenario | None:
    row = store.query_one("SELECT * FROM auth_codes WHERE code = ?", (code,))
    return None if row is None else _scenario(row)


def consume_auth_code(
    store: SandboxStore, channel: WalletChannel, code: str, *, out_trade_no: str, now: float
) -> AuthCodeScenario | AuthCodeRejection:
    """Use ``code`` for ``out_trade_no``: the scenario, or why the wallet refuses it.

    Idempotent for the same order (a gateway retrying the same request gets the same scenario);
    another order gets ALREADY_USED. Expiry is checked only on first use.
    """
    with store.transaction() as conn:
        row = conn.execute("SELECT * FROM auth_codes WHERE code = ? AND channel = ?", (code, channel)).fetchone()
        if row is None:
            return AuthCodeRejection.UNKNOWN
        if row["used_by"] is not None:
            return _scenario(row) if row["used_by"] == out_trade_no else AuthCodeRejection.ALREADY_USED
        if now >= row["expires_at"]:
            return AuthCodeRejection.EXPIRED
        conn.execute("UPDATE auth_codes SET used_at = ?, used_by = ? WHERE code = ?", (now, out_trade_no, code))
        row = conn.execute("SELECT * FROM auth_codes WHERE code = ?", (code,)).fetchone()
    return _scenario(row)


# ---- native QR payments -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayRequest:
    """The customer's action on a scanned native QR code."""

    now: float  # when the customer scanned (gateway clock)
    pay_at: float  # when the payment completes (now + after_s)
    fail: str | None  # None: pays; else one of FAIL_REASONS (or any text, shown as the failure)


@dataclass(frozen=True, slots=True)
class PayOutcome:
    ok: bool  # the payment succeeded or is scheduled to
    gateway: str
    out_trade_no: str
    state: str  # the gateway's own state word after this action (e.g. SUCCESS, NOTPAY, TRADE_SUCCESS)
    message: str  # what the customer's phone would say


class UnknownQrCode(Exception):
    """No gateway recognises this QR content (or the order behind it does not exist)."""


NativeHandler = Callable[["SandboxContext", str, PayRequest], PayOutcome]
_NATIVE_HANDLERS: dict[str, tuple[str, NativeHandler]] = {}


def register_native_handler(prefix: str, gateway: str, handler: NativeHandler) -> None:
    """Route QR contents starting with ``prefix`` to ``gateway``'s ``handler`` (last registration wins).

    Call it at import time of the gateway's routes module (create_app imports both).
    """
    _NATIVE_HANDLERS[prefix] = (gateway, handler)


@dataclass(frozen=True, slots=True)
class OpenQr:
    """A native QR code waiting to be paid (listed on the wallet page for one-click paying)."""

    gateway: str
    qr: str
    out_trade_no: str
    amount_fen: int
    description: str


OpenQrLister = Callable[["SandboxContext"], list[OpenQr]]
_OPEN_QR_LISTERS: dict[str, OpenQrLister] = {}


def register_open_qr_lister(gateway: str, lister: OpenQrLister) -> None:
    """Optional: let the wallet page list ``gateway``'s unpaid native QR codes."""
    _OPEN_QR_LISTERS[gateway] = lister


def open_qr_codes(ctx: SandboxContext) -> list[OpenQr]:
    return [qr for lister in _OPEN_QR_LISTERS.values() for qr in lister(ctx)]


def native_prefixes() -> list[str]:
    return sorted(_NATIVE_HANDLERS)


def pay_native(
    ctx: SandboxContext, code_url_or_qr: str, *, after_s: float = 0.0, fail: str | None = None
) -> PayOutcome:
    """The customer scans ``code_url_or_qr`` and pays (now, or in ``after_s`` seconds), or fails to."""
    qr = code_url_or_qr.strip()
    for prefix in sorted(_NATIVE_HANDLERS, key=len, reverse=True):
        if qr.startswith(prefix):
            gateway, handler = _NATIVE_HANDLERS[prefix]
            now = ctx.now(gateway)
            return handler(ctx, qr, PayRequest(now=now, pay_at=now + max(after_s, 0.0), fail=fail))
    raise UnknownQrCode("This QR code is not a WeChat Pay or Alipay payment code of this sandbox.")
