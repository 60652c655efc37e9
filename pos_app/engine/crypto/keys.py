"""Loading and writing key material. Key files must be readable by their owner only.

Accepts the forms merchants actually have (spec §8 of both gateways): PEM PKCS#8, PEM PKCS#1
("BEGIN RSA PRIVATE KEY"), or one bare Base64 line of either, as Alipay's key tool emits.
"""

from __future__ import annotations

import base64
import os
import textwrap
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.secret_files import KeyFileError, read_key_text


def _pem_candidates(text: str, kinds: tuple[str, ...]) -> list[bytes]:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        return [stripped.encode("ascii")]
    body = "\n".join(textwrap.wrap("".join(stripped.split()), 64))
    return [f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode("ascii") for kind in kinds]


def parse_private_key(text: str) -> rsa.RSAPrivateKey:
    for pem in _pem_candidates(text, ("PRIVATE KEY", "RSA PRIVATE KEY")):
        try:
            # The key is the merchant's own (or one we generated), not attacker-supplied input, so the
            # expensive RSA consistency check (~0.3 s a key) buys nothing; signing still fails loudly on
            # a corrupt key, and `pos doctor` checks every key file.
            key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
        except (ValueError, TypeError):
            continue
        if isinstance(key, rsa.RSAPrivateKey):
            return key
    raise KeyFileError("not an RSA private key (PKCS#1 or PKCS#8, PEM or bare Base64)")


def parse_public_key(text: str) -> rsa.RSAPublicKey:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN CERTIFICATE"):
        key = x509.load_pem_x509_certificate(stripped.encode("ascii")).public_key()
        if isinstance(key, rsa.RSAPublicKey):
            return key
    for pem in _pem_candidates(text, ("PUBLIC KEY", "RSA PUBLIC KEY")):
        try:
            loaded = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            continue
        if isinstance(loaded, rsa.RSAPublicKey):
            return loaded
    raise KeyFileError("not an RSA public key (PEM SubjectPublicKeyInfo, PKCS#1 or certificate)")


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        return parse_private_key(read_key_text(path, secret=True))
    except KeyFileError as exc:
        if str(path) in str(exc):
            raise
        raise KeyFileError(f"Key file {path}: {exc}.") from None


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    try:
        return parse_public_key(read_key_text(path, secret=False))
    except KeyFileError as exc:
        if str(path) in str(exc):
            raise
        raise KeyFileError(f"Key file {path}: {exc}.") from None


def private_pem_pkcs8(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_pem_pkcs1(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def random_token(nbytes: int = 24) -> str:
    """URL-safe random token (activation codes, nonces)."""
    return base64.urlsafe_b64encode(os.urandom(nbytes)).decode("ascii").rstrip("=")


def cert_serial_hex(cert: x509.Certificate) -> str:
    """Serial as uppercase hex without leading zeros, as WeChat Pay names certificates."""
    return format(cert.serial_number, "X")
