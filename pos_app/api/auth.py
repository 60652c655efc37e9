"""HMAC-SHA256 signing of terminal → engine requests (DESIGN.md §7).

Canonical string (five lines, each ending in LF)::

    METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nSHA256_HEX(BODY)\n

Headers: ``X-Pos-Terminal``, ``X-Pos-Timestamp`` (unix seconds), ``X-Pos-Nonce``,
``X-Pos-Signature`` (standard Base64 of the HMAC). The engine refuses skew over 300 s and a nonce
seen before. Pure standard library: the terminal may import this, it holds no provider secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_SKEW_S = 300
HEADER_TERMINAL = "X-Pos-Terminal"
HEADER_TIMESTAMP = "X-Pos-Timestamp"
HEADER_NONCE = "X-Pos-Nonce"
HEADER_SIGNATURE = "X-Pos-Signature"


def canonical_string(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_hash}\n".encode()


def sign(key: bytes, method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    mac = hmac.new(key, canonical_string(method, path_and_query, timestamp, nonce, body), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def verify(
    key: bytes, method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes, signature: str
) -> bool:
    expected = sign(key, method, path_and_query, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))


def decode_key(text: str) -> bytes:
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    return base64.urlsafe_b64decode(padded)
