"""The console → engine link (issue 17): what the console may ask the engine to do, and how it signs.

The console never holds gateway keys and never writes payments itself: to refund, disable a till or
make an activation code it calls the engine's ``/console/v1`` routes. Each request is signed with the
console key (``[console] engine_key_file``, 0600, shared by the engine and the console) by the
terminal's scheme (:mod:`pos_app.api.auth`: method, path, timestamp, nonce, body hash). The body
names the console user and the stores they act for, so that both are covered by the signature; the
engine refuses any act outside those stores. Pure pydantic and the standard library: no I/O here.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from pydantic import BaseModel, Field, SecretStr, StrictInt, field_serializer

from pos_app.api.schemas import TRADE_NO_PATTERN

PREFIX = "/console/v1"
#: Marks a console request (the terminal's X-Pos-Terminal is absent): its value is the key's id.
HEADER_CONSOLE = "X-Pos-Console"
CONSOLE_ID = "console"
#: The name the engine's nonce table keeps console nonces under (terminal ids are 1–4 characters).
NONCE_OWNER = "~CON"
KEY_BYTES = 32


def new_key_text() -> str:
    """A fresh console key as written to the key file (base64url, no padding)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii").rstrip("=")


class Acting(BaseModel):
    """Who acts in the console, and for which stores (``None``: an owner, every store)."""

    user: str = Field(min_length=1, max_length=64)
    stores: list[str] | None = Field(None, max_length=64)

    def allows(self, store_id: str) -> bool:
        return self.stores is None or store_id in self.stores


class ConsoleRefund(BaseModel):
    acting: Acting
    out_trade_no: str = Field(pattern=TRADE_NO_PATTERN)
    out_refund_no: str = Field(pattern=TRADE_NO_PATTERN)
    amount_fen: StrictInt = Field(gt=0)
    reason: str = Field("", max_length=80)
    approver: str = Field(min_length=1, max_length=64)
    approver_pin: SecretStr = Field(min_length=1, max_length=12)

    @field_serializer("approver_pin", when_used="json")
    def _pin_on_the_wire(self, pin: SecretStr) -> str:
        return pin.get_secret_value()


class ConsoleTerminalDisable(BaseModel):
    acting: Acting
    terminal_id: str = Field(min_length=1, max_length=4)


class ConsoleActivationCode(BaseModel):
    acting: Acting
    store_id: str = Field(min_length=1, max_length=6)
    terminal_id: str | None = Field(None, min_length=1, max_length=4)
    ttl_minutes: int = Field(60, ge=1, le=7 * 24 * 60)


class TerminalDisabled(BaseModel):
    terminal_id: str
    store_id: str


class ActivationCodeMade(BaseModel):
    code: str  # shown once, to the manager who asked
    store_id: str
    terminal_id: str | None
    expires_at: datetime
