"""Console passwords: a memory-hard hash (scrypt, 32 MiB per check) with a fresh salt, checked in constant time.

Stored as ``scrypt$N$r$p$salt_hex$hash_hex`` so the cost can grow later without breaking old hashes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from pos_app.domain.errors import InputError

# 2**15 × 128 × 8 bytes = 32 MiB and about 0.1 s per check: costly to guess offline, fine for a sign-in.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**15, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024
PASSWORD_MIN, PASSWORD_MAX = 10, 128


def check_password_rules(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InputError(
            "A console password is {low}–{high} characters long.", low=str(PASSWORD_MIN), high=str(PASSWORD_MAX)
        )
    return password


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


@functools.cache
def _nobody() -> str:
    """Checked against when no such account exists, so that the answer takes as long either way."""
    return hash_password(secrets.token_hex(16))


def password_matches(password: str, stored: str | None) -> bool:
    """Constant-time check; ``None`` (no such account) costs the same and is always False."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = (stored or _nobody()).split("$")
        expected = bytes.fromhex(hash_hex)
        digest = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p), len(expected))
    except ValueError:
        return False
    return scheme == "scrypt" and stored is not None and hmac.compare_digest(digest, expected)
