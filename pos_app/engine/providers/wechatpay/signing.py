"""WeChat Pay APIv3 canonical strings, request signing (an httpx.Auth) and signature verification.

Spec: specs/wechatpay-v3.md §1 (request signing) and §2 (response and callback verification).
Each canonical string has one named function, golden-tested against vectors/signing.json.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.engine.crypto.rsa import SignatureInvalid, sign_sha256_rsa, verify_sha256_rsa
from pos_app.engine.providers.common import Clock, system_clock

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
#: |now - Wechatpay-Timestamp| must stay below this many seconds (Go FiveMinute, PHP 300).
MAX_CLOCK_OFFSET_S = 300
USER_AGENT = "pos_app/0.1 (WeChatPay-APIv3; python-httpx)"

_NONCE_ALPHABET = string.ascii_letters + string.digits


def new_nonce() -> str:
    """32 characters of [0-9A-Za-z], as the Go SDK makes them."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(32))


def request_signature_message(method: str, canonical_url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """``METHOD\\nCANONICAL_URL\\nTIMESTAMP\\nNONCE\\nBODY\\n`` over the exact bytes sent (§1)."""
    head = f"{method.upper()}\n{canonical_url}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def authorization_header(*, mchid: str, nonce: str, signature: str, timestamp: str, serial_no: str) -> str:
    """The one-line ``Authorization`` value (§1)."""
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def response_signature_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """``TIMESTAMP\\nNONCE\\nBODY\\n`` over the raw bytes received (responses and callbacks, §2)."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def canonical_url(request: httpx.Request) -> str:
    """Path plus ``?query`` exactly as it goes on the wire (already percent-encoded)."""
    return request.url.raw_path.decode("ascii")


class WechatPayAuth(httpx.Auth):
    """Signs every outgoing request with the merchant API key (§1).

    Adds Accept/Content-Type/User-Agent (their absence gives 400 INVALID_REQUEST) and, in
    public-key mode, ``Wechatpay-Serial: PUB_KEY_ID_…`` so WeChat signs the answer with that key.
    """

    requires_request_body = True

    def __init__(
        self,
        *,
        mchid: str,
        serial_no: str,
        private_key: rsa.RSAPrivateKey,
        clock: Clock = system_clock,
        nonce_factory: Callable[[], str] = new_nonce,
        wechatpay_serial: str | None = None,
    ) -> None:
        self._mchid = mchid
        self._serial_no = serial_no
        self._private_key = private_key
        self._clock = clock
        self._nonce_factory = nonce_factory
        self._wechatpay_serial = wechatpay_serial

    def sign(self, request: httpx.Request) -> None:
        timestamp = str(int(self._clock().timestamp()))
        nonce = self._nonce_factory()
        message = request_signature_message(request.method, canonical_url(request), timestamp, nonce, request.content)
        signature = sign_sha256_rsa(self._private_key, message)
        request.headers["Authorization"] = authorization_header(
            mchid=self._mchid, nonce=nonce, signature=signature, timestamp=timestamp, serial_no=self._serial_no
        )
        # httpx gives every request "Accept: */*", so setdefault would keep it: WeChat asks for JSON.
        request.headers["Accept"] = "application/json"
        request.headers.setdefault("Content-Type", "application/json")
        request.headers["User-Agent"] = USER_AGENT
        if self._wechatpay_serial:
            request.headers.setdefault("Wechatpay-Serial", self._wechatpay_serial)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


class SignatureRejected(Exception):
    """A response or callback signature was refused. ``unknown_serial``: no key for its serial."""

    def __init__(self, reason: str, *, unknown_serial: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unknown_serial = unknown_serial


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    timestamp: str
    nonce: str
    signature: str
    serial: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignedHeaders:
        lowered = {k.lower(): v for k, v in headers.items()}
        missing = [
            name
            for name in ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial")
            if not lowered.get(name)
        ]
        if missing:
            raise SignatureRejected(f"missing signature headers: {', '.join(missing)}")
        # Real traffic always carries the type; Go defaults to RSA when absent, any other value is refused.
        sig_type = lowered.get("wechatpay-signature-type")
        if sig_type is not None and sig_type != AUTH_SCHEME:
            raise SignatureRejected(f"unsupported signature type {sig_type[:40]!r}")
        return cls(
            timestamp=lowered["wechatpay-timestamp"],
            nonce=lowered["wechatpay-nonce"],
            signature=lowered["wechatpay-signature"],
            serial=lowered["wechatpay-serial"],
        )


def verify_signed_message(
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, rsa.RSAPublicKey],
    *,
    clock: Clock = system_clock,
) -> SignedHeaders:
    """Verify a WeChat Pay signature over raw ``body``, choosing the key by ``Wechatpay-Serial``.

    Refuses SIGNTEST probes, timestamps ``MAX_CLOCK_OFFSET_S`` or more away from ``clock()``, an
    unknown serial (``unknown_serial=True``) and any changed byte. Never mutates its inputs.
    """
    signed = SignedHeaders.from_headers(headers)
    if signed.signature.startswith(SIGNTEST_PREFIX):
        raise SignatureRejected("signature probe (WECHATPAY/SIGNTEST) refused")
    try:
        timestamp = int(signed.timestamp)
    except ValueError:
        raise SignatureRejected("Wechatpay-Timestamp is not a number") from None
    if abs(clock().timestamp() - timestamp) >= MAX_CLOCK_OFFSET_S:
        raise SignatureRejected("Wechatpay-Timestamp is outside the 300 s window")
    key = keys.get(signed.serial)
    if key is None:
        raise SignatureRejected(f"no WeChat Pay key with serial {signed.serial[:64]!r}", unknown_serial=True)
    try:
        verify_sha256_rsa(key, response_signature_message(signed.timestamp, signed.nonce, body), signed.signature)
    except SignatureInvalid as exc:
        raise SignatureRejected(str(exc)) from None
    return signed
