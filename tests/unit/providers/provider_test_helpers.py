"""Gateway-side helpers for the provider unit tests: what WeChat Pay / Alipay would send.

Written from the specs with the crypto primitives only (no provider code), so that a misreading in
the client cannot hide in the test too.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from pos_app.engine.crypto.aead import encrypt_resource

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def wechat_headers(
    key: rsa.RSAPrivateKey, serial: str, body: bytes, *, timestamp: int, nonce: str = "n0nce1234567890abcdef"
) -> dict[str, str]:
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(key, message),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Request-ID": "08F1-1",
    }


def platform_certificate(key: rsa.RSAPrivateKey, serial: int, now: datetime, *, days: int = 365) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com sign")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_list(apiv3_key: bytes, certs: list[tuple[int, bytes]]) -> bytes:
    data: list[dict[str, Any]] = []
    for i, (serial, pem) in enumerate(certs):
        nonce = f"certnonce{i:03d}"
        data.append(
            {
                "serial_no": format(serial, "X"),
                "effective_time": "2026-01-01T00:00:00+08:00",
                "expire_time": "2030-01-01T00:00:00+08:00",
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": encrypt_resource(apiv3_key, nonce, "certificate", pem),
                },
            }
        )
    return json.dumps({"data": data}).encode("utf-8")


def wechat_notification(
    apiv3_key: bytes, event_type: str, resource: dict[str, Any], *, event_id: str = "EV-1", original_type: str
) -> bytes:
    nonce = "fdasflkja484"
    envelope = {
        "id": event_id,
        "create_time": "2026-11-22T20:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": encrypt_resource(
                apiv3_key, nonce, original_type, json.dumps(resource, ensure_ascii=False).encode("utf-8")
            ),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False).encode("utf-8")
