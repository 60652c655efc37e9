"""Sealing small secrets kept in the ledger (terminal keys) with AES-256-GCM under the ledger key file.

The ledger key is 32 random bytes in its own file (``[engine] ledger_key_file``, base64url, mode
0600), beside the provider keys and never in the database: a copy of the database alone holds only
ciphertext. Each sealed value is bound to its row by the associated data (the terminal id), so a
sealed key moved to another terminal's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pos_app.secret_files import KeyFileError, load_secret_bytes, write_secret_file

LEDGER_KEY_BYTES = 32
_NONCE_BYTES = 12
#: Names the scheme of a sealed value, so that another one can follow without guessing.
_PREFIX = "gcm1."


class SealedValueError(Exception):
    """A sealed value did not open: another ledger key file, or the value was changed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeySealer:
    """Seals and opens values with one ledger key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != LEDGER_KEY_BYTES:
            raise ValueError(f"the ledger key must be {LEDGER_KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, bound_to: str) -> str:
        """``gcm1.`` + base64url(nonce ‖ ciphertext ‖ tag); ``bound_to`` must be given again to open it."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _PREFIX + _b64(nonce + self._aead.encrypt(nonce, plaintext, bound_to.encode("utf-8")))

    def open(self, sealed: str, *, bound_to: str) -> bytes:
        if not sealed.startswith(_PREFIX):
            raise SealedValueError("not a sealed value")
        try:
            raw = _unb64(sealed[len(_PREFIX) :])
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode("utf-8"))
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SealedValueError("the sealed value does not open with this ledger key") from exc


def is_sealed(value: str) -> bool:
    return value.startswith(_PREFIX)


def read_ledger_key(path: Path) -> KeySealer:
    """The sealer of an existing key file (owner-only, 32 bytes), or KeyFileError naming the file."""
    text = load_secret_bytes(path).decode("ascii")
    try:
        key = _unb64(text)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != LEDGER_KEY_BYTES:
        raise KeyFileError(f"Key file {path} does not hold a {LEDGER_KEY_BYTES}-byte ledger key.")
    return KeySealer(key)


def create_ledger_key(path: Path) -> KeySealer:
    """Write a new random ledger key to ``path`` (0600 from its first byte; its directory 0700)."""
    if path.exists():
        raise KeyFileError(f"Key file {path} already exists — it is not replaced.")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(LEDGER_KEY_BYTES)
    write_secret_file(path, _b64(key).encode("ascii"))
    return KeySealer(key)
