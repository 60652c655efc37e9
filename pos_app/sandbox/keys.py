"""The simulated gateways' key material, loaded from ``sandbox-keys/`` (written by ``pos demo init``).

Files (see :mod:`pos_app.sandbox.demo`):

- ``merchant.toml`` — public identifiers: ``[wechat] mchid, appid, merchant_serial_no, pub_key_id`` and
  ``[alipay] app_id, seller_id``;
- ``wechat_merchant_pub.pem`` — the merchant API key's public half (verifies merchant requests);
- ``wechat_pay_private.pem`` — the WeChat Pay public-key pair's private half (signs in public-key mode);
- ``wechat_apiv3.key`` — the 32-character APIv3 key (encrypts notification resources, cert lists);
- ``alipay_app_pub.pem`` — the Alipay app's public key (verifies app requests);
- ``alipay_gateway_private.pem`` — the Alipay gateway's private key (signs responses, notifications);
- ``platform-certs/<SERIAL>.pem`` + ``<SERIAL>.key`` — WeChat Pay platform certificates (platform-cert
  mode), generated on first start and on each :func:`add_platform_cert` (a rotation: several live).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from pos_app.engine.crypto.aead import APIV3_KEY_LEN
from pos_app.engine.crypto.keys import cert_serial_hex, load_private_key, load_public_key, private_pem_pkcs8
from pos_app.engine.crypto.rsa import generate_rsa_key
from pos_app.secret_files import KeyFileError, load_secret_bytes, write_secret_file

PLATFORM_CERT_DIR = "platform-certs"
PLATFORM_CERT_CN = "Tenpay.com sign"
PLATFORM_CERT_VALIDITY = timedelta(days=5 * 365)


@dataclass(frozen=True, slots=True)
class PlatformCert:
    """One WeChat Pay platform certificate and its private key."""

    serial_no: str  # uppercase hex, as Wechatpay-Serial names it
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def effective_at(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def expire_at(self) -> datetime:
        return self.certificate.not_valid_after_utc


@dataclass(slots=True)
class WechatKeys:
    mchid: str
    appid: str
    merchant_serial_no: str
    merchant_public_key: rsa.RSAPublicKey
    pay_private_key: rsa.RSAPrivateKey  # public-key mode signing key
    pub_key_id: str  # PUB_KEY_ID_…
    apiv3_key: bytes
    platform_certs: list[PlatformCert] = field(default_factory=list)  # oldest first

    @property
    def newest_platform_cert(self) -> PlatformCert:
        if not self.platform_certs:
            raise KeyFileError("No WeChat Pay platform certificate (the sandbox is in public-key mode).")
        return self.platform_certs[-1]

    def platform_cert(self, serial_no: str) -> PlatformCert | None:
        return next((c for c in self.platform_certs if c.serial_no == serial_no), None)


@dataclass(frozen=True, slots=True)
class AlipayKeys:
    app_id: str
    seller_id: str
    app_public_key: rsa.RSAPublicKey
    gateway_private_key: rsa.RSAPrivateKey


@dataclass(slots=True)
class SandboxKeys:
    keys_dir: Path
    wechat: WechatKeys
    alipay: AlipayKeys


def _merchant_facts(keys_dir: Path) -> dict[str, dict[str, str]]:
    path = keys_dir / "merchant.toml"
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path} does not exist (run `pos demo init --dir DIR`).") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KeyFileError(f"{path} cannot be read ({exc.__class__.__name__}).") from exc
    return data


def load_sandbox_keys(keys_dir: Path, *, platform_certs: int = 0) -> SandboxKeys:
    """Load every key; with ``platform_certs`` > 0, make sure at least that many certificates exist."""
    facts = _merchant_facts(keys_dir)
    wechat, alipay = facts.get("wechat", {}), facts.get("alipay", {})
    try:
        wechat_keys = WechatKeys(
            mchid=wechat["mchid"],
            appid=wechat["appid"],
            merchant_serial_no=wechat["merchant_serial_no"],
            merchant_public_key=load_public_key(keys_dir / "wechat_merchant_pub.pem"),
            pay_private_key=load_private_key(keys_dir / "wechat_pay_private.pem"),
            pub_key_id=wechat["pub_key_id"],
            apiv3_key=load_secret_bytes(keys_dir / "wechat_apiv3.key", length=APIV3_KEY_LEN),
            platform_certs=ensure_platform_certs(keys_dir, count=platform_certs),
        )
        alipay_keys = AlipayKeys(
            app_id=alipay["app_id"],
            seller_id=alipay.get("seller_id", ""),
            app_public_key=load_public_key(keys_dir / "alipay_app_pub.pem"),
            gateway_private_key=load_private_key(keys_dir / "alipay_gateway_private.pem"),
        )
    except KeyError as exc:
        raise KeyFileError(f"{keys_dir / 'merchant.toml'} lacks {exc.args[0]}.") from None
    return SandboxKeys(keys_dir=keys_dir, wechat=wechat_keys, alipay=alipay_keys)


def generate_platform_cert(*, not_before: datetime | None = None) -> PlatformCert:
    """A self-signed X.509 certificate (CN "Tenpay.com sign", 5 years) with a fresh RSA-2048 key."""
    key = generate_rsa_key()
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Tenpay.com CA Center"),
            x509.NameAttribute(NameOID.COMMON_NAME, PLATFORM_CERT_CN),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + PLATFORM_CERT_VALIDITY)
        .sign(key, hashes.SHA256())
    )
    return PlatformCert(serial_no=cert_serial_hex(cert), certificate=cert, private_key=key)


def _save_platform_cert(keys_dir: Path, cert: PlatformCert) -> None:
    folder = keys_dir / PLATFORM_CERT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    write_secret_file(folder / f"{cert.serial_no}.key", private_pem_pkcs8(cert.private_key))
    (folder / f"{cert.serial_no}.pem").write_text(cert.pem, "ascii")


def load_platform_certs(keys_dir: Path) -> list[PlatformCert]:
    """Every stored platform certificate, oldest (by not-before) first."""
    folder = keys_dir / PLATFORM_CERT_DIR
    certs: list[PlatformCert] = []
    for pem in sorted(folder.glob("*.pem")) if folder.exists() else []:
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        certs.append(
            PlatformCert(
                serial_no=cert_serial_hex(cert), certificate=cert, private_key=load_private_key(pem.with_suffix(".key"))
            )
        )
    return sorted(certs, key=lambda c: (c.effective_at, c.serial_no))


def ensure_platform_certs(keys_dir: Path, *, count: int = 1) -> list[PlatformCert]:
    certs = load_platform_certs(keys_dir)
    while len(certs) < count:
        # Newer certificates start later, so "newest" is well defined even within one second.
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        if certs:
            start = max(start, certs[-1].effective_at + timedelta(seconds=1))
        cert = generate_platform_cert(not_before=start)
        _save_platform_cert(keys_dir, cert)
        certs.append(cert)
    return certs


def add_platform_cert(keys: SandboxKeys) -> PlatformCert:
    """Start a rotation: one more live certificate, newest from now on (persisted in keys_dir)."""
    certs = ensure_platform_certs(keys.keys_dir, count=len(keys.wechat.platform_certs) + 1)
    keys.wechat.platform_certs = certs
    return certs[-1]
