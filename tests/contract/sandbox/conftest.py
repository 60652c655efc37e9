"""The merchant's side of WeChat Pay v3, written here by hand from specs/wechatpay-v3.md.

Signing, response verification and notification decryption use `cryptography` directly — neither
the engine's provider code nor the sandbox's own helpers — so a misreading on either side fails here.
The sandbox runs in-process over httpx.ASGITransport with a manual clock; notifications are delivered
to a small recording ASGI app (the "merchant") through the notifier's injectable transport.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import string
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI, Request
from fastapi.responses import Response

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.sandbox.app import create_app
from pos_app.sandbox.clock import ManualClock
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.demo import DemoProfile, init_demo_profile

START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=CHINA_TZ)
NOTIFY_URL = "http://merchant.test/notify/wechat"
BASE_URL = "https://api.mch.weixin.qq.com"
UA = "pos-app-tests/1.0 (linux)"
VECTORS = Path("/work/shared/vectors/signing.json")


# ---- the merchant's crypto, from the spec --------------------------------------------------------


def nonce32() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def sign_message(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def request_message(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """Spec §1: five lines, each ending in \\n, the body as sent."""
    return (
        method.encode()
        + b"\n"
        + target.encode()
        + b"\n"
        + timestamp.encode()
        + b"\n"
        + nonce.encode()
        + b"\n"
        + body
        + b"\n"
    )


def authorization(*, mchid: str, serial: str, nonce: str, timestamp: str, signature: str) -> str:
    return (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def verify_signature(public_key: rsa.RSAPublicKey, headers: httpx.Headers | dict[str, str], body: bytes) -> bool:
    """Spec §2: TIMESTAMP\\nNONCE\\nBODY\\n under the key named by Wechatpay-Serial."""
    message = f"{headers['wechatpay-timestamp']}\n{headers['wechatpay-nonce']}\n".encode() + body + b"\n"
    try:
        signature = base64.b64decode(headers["wechatpay-signature"], validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def decrypt(apiv3_key: bytes, resource: dict[str, str]) -> bytes:
    """Spec §3: AES-256-GCM, nonce = the 12-char string's bytes, AAD = associated_data, ct‖tag in Base64."""
    aad = resource["associated_data"].encode() or None
    return AESGCM(apiv3_key).decrypt(resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]), aad)


# ---- the merchant ------------------------------------------------------------------------------


@dataclass
class Merchant:
    mchid: str
    appid: str
    serial: str
    key: rsa.RSAPrivateKey
    apiv3: bytes
    pay_public: rsa.RSAPublicKey
    pub_key_id: str


def merchant_of(settings: Settings) -> Merchant:
    wc = settings.wechatpay
    key = serialization.load_pem_private_key(settings.path(wc.merchant_private_key).read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert wc.platform_public_key is not None
    pub = serialization.load_pem_public_key(settings.path(wc.platform_public_key).read_bytes())
    assert isinstance(pub, rsa.RSAPublicKey)
    return Merchant(
        mchid=wc.mchid,
        appid=wc.appid,
        serial=wc.merchant_serial_no,
        key=key,
        apiv3=settings.path(wc.apiv3_key_file).read_bytes().strip(),
        pay_public=pub,
        pub_key_id=wc.platform_public_key_id,
    )


@dataclass
class Receiver:
    """The merchant's notification endpoint: records every delivery, answers from a script."""

    answers: list[int] = field(default_factory=list)  # statuses for the next deliveries, then `default`
    default: int = 200
    alipay_bodies: list[bytes] = field(default_factory=list)  # Alipay answers, then b"success"
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/notify/{gateway}")
        async def notify(gateway: str, request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            status = self.answers.pop(0) if self.answers else self.default
            if gateway == "alipay":
                body = self.alipay_bodies.pop(0) if self.alipay_bodies else b"success"
            else:
                body = b"" if status == 204 else b'{"code":"SUCCESS","message":"OK"}'
            return Response(status_code=status, content=body)

        return app

    def envelopes(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


class WechatClient:
    """Hand-built, hand-signed WeChat Pay v3 requests."""

    def __init__(
        self, http: httpx.AsyncClient, merchant: Merchant, clock: ManualClock | Any, base_url: str = BASE_URL
    ) -> None:
        self.base_url = base_url
        self.http = http
        self.merchant = merchant
        self.clock = clock

    async def request(
        self,
        method: str,
        target: str,
        body: dict[str, Any] | bytes | None = None,
        *,
        headers: dict[str, str | None] | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        serial: str | None = None,
        mchid: str | None = None,
        sign_target: str | None = None,
        sign_body: bytes | None = None,
    ) -> httpx.Response:
        raw = (
            body
            if isinstance(body, bytes)
            else (b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        )
        ts = timestamp or str(int(self.clock.now()))
        nc = nonce or nonce32()
        signature = sign_message(
            key or self.merchant.key,
            request_message(method, sign_target or target, ts, nc, raw if sign_body is None else sign_body),
        )
        all_headers: dict[str, str | None] = {
            "Accept": "application/json",
            "User-Agent": UA,
            "Authorization": authorization(
                mchid=mchid or self.merchant.mchid,
                serial=serial or self.merchant.serial,
                nonce=nc,
                timestamp=ts,
                signature=signature,
            ),
        }
        if raw:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        sent = {k: v for k, v in all_headers.items() if v is not None}
        request = self.http.build_request(method, self.base_url + target, content=raw or None, headers=sent)
        # httpx would add its own User-Agent/Accept when we drop ours: remove what the test removed.
        for name, value in all_headers.items():
            if value is None and name in request.headers:
                del request.headers[name]
        return await self.http.send(request)

    def order(self, out_trade_no: str, total: int, **extra: Any) -> dict[str, Any]:
        return {
            "appid": self.merchant.appid,
            "mchid": self.merchant.mchid,
            "description": "Demo Store - 2 items",
            "out_trade_no": out_trade_no,
            "amount": {"total": total, "currency": "CNY"},
            **extra,
        }

    async def native(self, out_trade_no: str, total: int, **extra: Any) -> httpx.Response:
        return await self.request(
            "POST", "/v3/pay/transactions/native", self.order(out_trade_no, total, notify_url=NOTIFY_URL, **extra)
        )

    async def codepay(self, out_trade_no: str, total: int, auth_code: str, **extra: Any) -> httpx.Response:
        body = self.order(
            out_trade_no,
            total,
            payer={"auth_code": auth_code},
            scene_info={"device_id": "T001", "store_info": {"out_id": "S00001"}},
            **extra,
        )
        return await self.request("POST", "/v3/pay/transactions/codepay", body)

    async def query(self, out_trade_no: str) -> httpx.Response:
        target = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.merchant.mchid}"
        return await self.request("GET", target)

    async def close(self, out_trade_no: str) -> httpx.Response:
        return await self.request(
            "POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": self.merchant.mchid}
        )

    async def reverse(self, out_trade_no: str) -> httpx.Response:
        return await self.request(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse",
            {"appid": self.merchant.appid, "mchid": self.merchant.mchid},
        )

    async def refund(
        self, out_trade_no: str, out_refund_no: str, refund: int, total: int, **extra: Any
    ) -> httpx.Response:
        body = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "amount": {"refund": refund, "total": total, "currency": "CNY"},
            **extra,
        }
        return await self.request("POST", "/v3/refund/domestic/refunds", body)


@dataclass
class Sandbox:
    app: FastAPI
    ctx: SandboxContext
    clock: ManualClock
    http: httpx.AsyncClient
    wechat: WechatClient
    receiver: Receiver
    merchant: Merchant

    async def advance(self, seconds: float) -> None:
        """Time passes: due payments/refunds complete and due notifications are delivered."""
        self.clock.advance(seconds)
        await self.ctx.step()

    async def authcode(self, channel: str = "wechat", **options: Any) -> str:
        response = await self.http.post("/sandbox/authcodes", json={"channel": channel, **options})
        assert response.status_code == 200, response.text
        code: str = response.json()["auth_code"]
        return code

    async def pay(self, qr: str, **options: Any) -> dict[str, Any]:
        response = await self.http.post("/sandbox/pay", json={"qr": qr, **options})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def verify(self, response: httpx.Response) -> bool:
        return response.headers.get("wechatpay-serial") == self.merchant.pub_key_id and verify_signature(
            self.merchant.pay_public, response.headers, response.content
        )


@pytest.fixture(scope="session")
def _template_profile(tmp_path_factory: pytest.TempPathFactory) -> DemoProfile:
    return init_demo_profile(tmp_path_factory.mktemp("sandbox-template") / "profile")


@pytest.fixture
def demo_profile(_template_profile: DemoProfile, tmp_path: Path) -> DemoProfile:
    """A fresh copy of one demo profile per test (RSA key generation once per session, not per test)."""
    home = tmp_path / "profile"
    shutil.copytree(_template_profile.home, home)
    return replace(_template_profile, home=home, config=home / "pos.toml")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START.timestamp())


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


SandboxFactory = Callable[..., "Sandbox"]


@pytest.fixture
async def make_sandbox(
    demo_settings: Settings, clock: ManualClock, receiver: Receiver
) -> AsyncIterator[Callable[..., Any]]:
    made: list[Sandbox] = []

    async def make(settings: Settings | None = None, **sandbox_options: Any) -> Sandbox:
        settings = (settings or demo_settings).model_copy(deep=True)
        for name, value in sandbox_options.items():
            setattr(settings.sandbox, name, value)
        app = create_app(settings, clock=clock, notify_transport=httpx.ASGITransport(receiver.app()))
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE_URL)
        merchant = merchant_of(settings)
        box = Sandbox(
            app=app,
            ctx=app.state.ctx,
            clock=clock,
            http=http,
            wechat=WechatClient(http, merchant, clock),
            receiver=receiver,
            merchant=merchant,
        )
        made.append(box)
        return box

    yield make
    for box in made:
        await box.http.aclose()
        box.ctx.store.close()


@pytest.fixture
async def sandbox(make_sandbox: Callable[..., Any]) -> Sandbox:
    made: Sandbox = await make_sandbox()
    return made
