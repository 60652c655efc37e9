"""AEAD_AES_256_GCM as WeChat Pay uses it for notification resources and certificate lists."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

APIV3_KEY_LEN = 32
NONCE_LEN = 12


class DecryptionFailed(Exception):
    """The resource did not decrypt: wrong APIv3 key, changed ciphertext, wrong nonce or AAD."""


def _aesgcm(apiv3_key: bytes) -> AESGCM:
    if len(apiv3_key) != APIV3_KEY_LEN:
        raise ValueError("the APIv3 key must be 32 bytes")
    return AESGCM(apiv3_key)


def encrypt_resource(apiv3_key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """Base64(ciphertext ‖ 16-byte tag); ``nonce`` is the 12-character string, used as its bytes."""
    nonce_bytes = nonce.encode("ascii")
    if len(nonce_bytes) != NONCE_LEN:
        raise ValueError("the nonce must be 12 characters")
    sealed = _aesgcm(apiv3_key).encrypt(nonce_bytes, plaintext, associated_data.encode("utf-8") or None)
    return base64.b64encode(sealed).decode("ascii")


def decrypt_resource(apiv3_key: bytes, nonce: str, associated_data: str, ciphertext_b64: str) -> bytes:
    try:
        sealed = base64.b64decode(ciphertext_b64, validate=True)
        return _aesgcm(apiv3_key).decrypt(nonce.encode("ascii"), sealed, associated_data.encode("utf-8") or None)
    except (InvalidTag, binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise DecryptionFailed("resource did not decrypt (check the APIv3 key)") from exc
