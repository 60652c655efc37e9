"""The pages' own tokens, pure crypto (no I/O): the page token in the QR, the OAuth ``state`` (an
HMAC over token, wallet and time; WeChat allows only ``[a-zA-Z0-9]``, at most 128), the store form's
sealed ticket (AES-GCM: binds token, wallet and payer, and hides the payer's id) and the result URL's
MAC. Every key is derived from one secret that every engine process of a ledger shares.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pos_app.domain.routing import Channel

#: How long an OAuth ``state`` or a store-page ticket is good for (the OAuth code itself lives 5 min).
STATE_TTL_S = 600


class Wallet(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"

    @property
    def channel(self) -> Channel:
        return Channel.WECHAT if self is Wallet.WECHAT else Channel.ALIPAY

    @property
    def letter(self) -> str:
        return "w" if self is Wallet.WECHAT else "a"


def new_token() -> str:
    """32 URL-safe characters (192 random bits): the only thing a printed or shown QR carries."""
    return secrets.token_urlsafe(24)


class PageKeys:
    """The keys of the pages' own tokens, derived from one secret (the ledger key file's bytes)."""

    def __init__(self, secret: bytes) -> None:
        self._state = hmac.new(secret, b"pos-wallet-pages/state", hashlib.sha256).digest()
        self._ticket = hmac.new(secret, b"pos-wallet-pages/ticket", hashlib.sha256).digest()
        self._payer = hmac.new(secret, b"pos-wallet-pages/payer", hashlib.sha256).digest()

    # OAuth state: [a-zA-Z0-9] only, at most 128 (WeChat's rule): wallet letter (upper case on the one
    # retry after a refused code) + 10-digit time + MAC over all of it.
    def make_state(self, token: str, wallet: Wallet, now: float | None = None, *, retry: bool = False) -> str:
        ts = str(int(now if now is not None else time.time()))
        letter = wallet.letter.upper() if retry else wallet.letter
        return letter + ts + self._state_mac(token, letter, ts)

    def check_state(self, token: str, wallet: Wallet, state: str, now: float | None = None) -> bool:
        if len(state) != 1 + 10 + 32 or not state.isascii() or not state.isalnum():
            return False
        letter, ts = state[0], state[1:11]
        if letter.lower() != wallet.letter or not ts.isdigit():
            return False
        if not hmac.compare_digest(state[11:], self._state_mac(token, letter, ts)):
            return False
        age = (now if now is not None else time.time()) - int(ts)
        return -60 <= age <= STATE_TTL_S

    @staticmethod
    def is_retry(state: str) -> bool:
        """The state of the one sign-in started again after the wallet refused a code."""
        return state[:1].isupper()

    def _state_mac(self, token: str, letter: str, ts: str) -> str:
        return hmac.new(self._state, f"{token}|{letter}|{ts}".encode(), hashlib.sha256).hexdigest()[:32]

    def payer_hash(self, wallet: Wallet, payer: str) -> str:
        return hmac.new(self._payer, f"{wallet.value}|{payer}".encode(), hashlib.sha256).hexdigest()

    # The store page's hidden ticket: sealed, so the payer id is neither readable nor changeable.
    def seal_ticket(self, token: str, wallet: Wallet, payer: str, now: float | None = None) -> str:
        body = json.dumps({"w": wallet.value, "p": payer, "t": int(now if now is not None else time.time())})
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._ticket).encrypt(nonce, body.encode(), token.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")

    def open_ticket(self, token: str, ticket: str, now: float | None = None) -> tuple[Wallet, str] | None:
        if not 20 <= len(ticket) <= 512:
            return None
        try:
            raw = base64.urlsafe_b64decode(ticket + "=" * (-len(ticket) % 4))
            body = json.loads(AESGCM(self._ticket).decrypt(raw[:12], raw[12:], token.encode()))
            wallet, payer, ts = Wallet(body["w"]), str(body["p"]), int(body["t"])
        except (ValueError, InvalidTag, KeyError, TypeError):
            return None
        age = (now if now is not None else time.time()) - ts
        return (wallet, payer) if -60 <= age <= STATE_TTL_S else None

    def result_mac(self, token: str, out_trade_no: str) -> str:
        return hmac.new(self._state, f"result|{token}|{out_trade_no}".encode(), hashlib.sha256).hexdigest()[:32]
