"""Which keys WeChat Pay signs with, and the platform-certificate download (spec §2).

- Public-key mode (微信支付公钥): one key, named by its ``PUB_KEY_ID_…``; ``Wechatpay-Serial`` must equal it.
- Platform-certificate mode: certificates from ``GET /v3/certificates``, each decrypted with the APIv3
  key, the list itself verified by one of the certificates it carries (bootstrap), the key picked by
  ``Wechatpay-Serial``; an unknown serial triggers a re-download.
- Combined (migration, 灰度): both at once, selected by ``Wechatpay-Serial``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.domain.errors import PosError
from pos_app.engine.crypto.aead import DecryptionFailed, decrypt_resource
from pos_app.engine.crypto.keys import cert_serial_hex
from pos_app.engine.providers.common import Clock, system_clock
from pos_app.engine.providers.wechatpay.signing import SignatureRejected, SignedHeaders, verify_signed_message

CERTIFICATES_PATH = "/v3/certificates"


class CertificateError(PosError):
    """The certificate list could not be decrypted, parsed or verified."""


class WechatPayVerifier:
    """Verifies WeChat Pay responses and callbacks with the public key and/or platform certificates."""

    def __init__(
        self,
        *,
        apiv3_key: bytes,
        public_key_id: str | None = None,
        public_key: rsa.RSAPublicKey | None = None,
        use_platform_certificates: bool = False,
        clock: Clock = system_clock,
    ) -> None:
        if (public_key_id is None) != (public_key is None):
            raise ValueError("public_key and public_key_id go together")
        if public_key is None and not use_platform_certificates:
            raise ValueError("configure the WeChat Pay public key or platform certificates")
        self._apiv3_key = apiv3_key
        self._public: dict[str, rsa.RSAPublicKey] = {public_key_id: public_key} if public_key_id and public_key else {}
        self._certificates: dict[str, rsa.RSAPublicKey] = {}
        self.use_platform_certificates = use_platform_certificates
        self._clock = clock

    @property
    def public_key_id(self) -> str | None:
        return next(iter(self._public), None)

    @property
    def certificate_serials(self) -> frozenset[str]:
        return frozenset(self._certificates)

    def keys(self) -> Mapping[str, rsa.RSAPublicKey]:
        return MappingProxyType({**self._certificates, **self._public})

    def verify(self, headers: Mapping[str, str], body: bytes) -> SignedHeaders:
        """Raise SignatureRejected unless the headers sign ``body`` with a known key."""
        return verify_signed_message(headers, body, self.keys(), clock=self._clock)

    def install_certificates(self, headers: Mapping[str, str], body: bytes) -> frozenset[str]:
        """Take a ``/v3/certificates`` answer: decrypt each certificate, verify the answer with the
        known keys plus the new certificates (bootstrap), then install them. Returns their serials."""
        try:
            document = json.loads(body)
            entries: list[Mapping[str, Any]] = list(document["data"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CertificateError("the certificate list is not the expected JSON") from exc
        fresh: dict[str, rsa.RSAPublicKey] = {}
        now = self._clock()
        for entry in entries:
            serial, key = self._decrypt_certificate(entry)
            if serial is not None and key is not None:
                fresh[serial] = key
        if not fresh:
            raise CertificateError("the certificate list holds no usable certificate")
        candidates = {**self._certificates, **self._public, **fresh}
        try:
            verify_signed_message(headers, body, candidates, clock=lambda: now)
        except SignatureRejected as exc:
            raise CertificateError(f"the certificate list failed verification: {exc.reason}") from None
        self._certificates.update(fresh)
        return frozenset(fresh)

    def _decrypt_certificate(self, entry: Mapping[str, Any]) -> tuple[str | None, rsa.RSAPublicKey | None]:
        try:
            enc = entry["encrypt_certificate"]
            pem = decrypt_resource(self._apiv3_key, enc["nonce"], enc.get("associated_data") or "", enc["ciphertext"])
            cert = x509.load_pem_x509_certificate(pem)
        except DecryptionFailed as exc:
            raise CertificateError("a platform certificate did not decrypt (check the APIv3 key)") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise CertificateError("a platform certificate entry is malformed") from exc
        serial = cert_serial_hex(cert)
        declared = str(entry.get("serial_no", serial))
        if declared.upper() != serial:
            raise CertificateError("a platform certificate's serial_no does not match the certificate")
        now = self._clock()
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            return None, None  # outside its validity: ignore it, keep the others
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return None, None  # SM2 certificates are not used here
        return serial, key
