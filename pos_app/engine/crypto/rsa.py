"""RSA-2048 SHA256withRSA (PKCS#1 v1.5), the signature scheme of WeChat Pay v3 and Alipay RSA2."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class SignatureInvalid(Exception):
    """A signature did not verify (wrong key, changed byte, malformed Base64, a SIGNTEST probe)."""


def sign_sha256_rsa(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Standard Base64 (padded, no newlines) of the PKCS#1 v1.5 SHA-256 signature of ``message``."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_sha256_rsa(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> None:
    """Raise SignatureInvalid unless ``signature_b64`` signs ``message`` under ``public_key``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid("signature is not valid Base64") from exc
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise SignatureInvalid("signature does not match") from exc


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
