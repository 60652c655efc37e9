"""Loading and writing key material. Key files must be readable by their owner only.

Accepts the forms merchants actually have (spec §8 of both gateways): PEM PKCS#8, PEM PKCS#1
("BEGIN RSA PRIVATE KEY"), or one bare Base64 line of either, as Alipay's key tool emits.
"""

from __future__ import annotations

import base64
import os
import stat
import textwrap
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.domain.errors import PosError


class KeyFileError(PosError):
    """A key file is missing, unreadable, too open, or does not hold the expected key.

    The message names the file, never its content.
    """


def check_owner_only(path: Path) -> None:
    """Refuse a key file that group or others can read (DESIGN.md §7)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeyFileError(f"Key file {path} does not exist.") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"Key file {path} is readable by others: run `chmod 600 {path}`.")


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


def _read(path: Path, *, secret: bool) -> str:
    if secret:
        check_owner_only(path)
    try:
        return path.read_text("ascii")
    except FileNotFoundError as exc:
        raise KeyFileError(f"Key file {path} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"Key file {path} cannot be read.") from exc


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        return parse_private_key(_read(path, secret=True))
    except KeyFileError as exc:
        if str(path) in str(exc):
            raise
        raise KeyFileError(f"Key file {path}: {exc}.") from None


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    try:
        return parse_public_key(_read(path, secret=False))
    except KeyFileError as exc:
        if str(path) in str(exc):
            raise
        raise KeyFileError(f"Key file {path}: {exc}.") from None


def load_secret_bytes(path: Path, *, length: int | None = None) -> bytes:
    """A symmetric secret (the APIv3 key) kept in a file, without a trailing newline."""
    value = _read(path, secret=True).strip().encode("ascii")
    if length is not None and len(value) != length:
        raise KeyFileError(f"Key file {path} must hold exactly {length} characters, it holds {len(value)}.")
    return value


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


def write_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the first byte (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def random_token(nbytes: int = 24) -> str:
    """URL-safe random token (activation codes, nonces)."""
    return base64.urlsafe_b64encode(os.urandom(nbytes)).decode("ascii").rstrip("=")


def cert_serial_hex(cert: x509.Certificate) -> str:
    """Serial as uppercase hex without leading zeros, as WeChat Pay names certificates."""
    return format(cert.serial_number, "X")
