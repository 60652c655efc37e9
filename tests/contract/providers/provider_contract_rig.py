"""Rig for the provider contract tests: the clients against the sandbox, in-process over httpx.ASGITransport.

One ManualClock drives both sides. Notifications the sandbox sends are routed (``notify_transport``)
to a tiny receiver app that hands the raw body and headers to the provider's own
``parse_notification`` and answers with its ``ack`` — the same path the engine's routes take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_app.config import Settings
from pos_app.domain.routing import Channel
from pos_app.engine.providers import RetryPolicy, build_providers
from pos_app.engine.providers.alipay.client import AlipayClient
from pos_app.engine.providers.base import Notification, NotificationInvalid, PaymentProvider
from pos_app.engine.providers.wechatpay.client import WechatPayClient
from pos_app.sandbox.app import create_app
from pos_app.sandbox.clock import ManualClock


@dataclass
class Rig:
    """Everything a contract test needs."""

    settings: Settings
    clock: ManualClock
    app: Any
    control: httpx.AsyncClient  # the sandbox's control endpoints (/sandbox/...)
    providers: dict[Channel, PaymentProvider]
    received: list[Notification] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)

    @property
    def wechat(self) -> WechatPayClient:
        provider = self.providers[Channel.WECHAT]
        assert isinstance(provider, WechatPayClient)
        return provider

    @property
    def alipay(self) -> AlipayClient:
        provider = self.providers[Channel.ALIPAY]
        assert isinstance(provider, AlipayClient)
        return provider

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def auth_code(self, channel: str, **options: Any) -> str:
        answer = await self.control.post("/sandbox/authcodes", json={"channel": channel, **options})
        assert answer.status_code == 200, answer.text
        code: str = answer.json()["auth_code"]
        return code

    async def pay_qr(self, qr: str, **options: Any) -> dict[str, Any]:
        answer = await self.control.post("/sandbox/pay", json={"qr": qr, **options})
        assert answer.status_code == 200, answer.text
        outcome: dict[str, Any] = answer.json()
        return outcome

    async def fault(self, **spec: Any) -> None:
        answer = await self.control.post("/sandbox/faults", json=spec)
        assert answer.status_code == 201, answer.text

    async def step(self, seconds: float = 0.0) -> None:
        """Move both clocks, then let the sandbox complete what is due and deliver notifications."""
        if seconds:
            self.clock.advance(seconds)
        await self.app.state.ctx.step()


def _receiver(rig_holder: dict[str, Rig]) -> Starlette:
    async def receive(request: Request) -> Response:
        rig = rig_holder["rig"]
        channel = Channel.WECHAT if request.url.path.endswith("wechatpay") else Channel.ALIPAY
        provider = rig.providers[channel]
        body = await request.body()
        try:
            note = provider.parse_notification(dict(request.headers), body)
        except NotificationInvalid as exc:
            rig.refused.append((exc.reason, exc.status_code))
            nack = provider.ack(False)
            return Response(nack.body, status_code=exc.status_code, media_type=nack.media_type)
        rig.received.append(note)
        ack = provider.ack(True)
        return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)

    return Starlette(routes=[Route("/notify/{gateway}", receive, methods=["POST"])])


def make_settings(
    base: Settings, *, wechat: dict[str, Any] | None = None, sandbox: dict[str, Any] | None = None
) -> Settings:
    return base.model_copy(
        update={
            "wechatpay": base.wechatpay.model_copy(update=wechat or {}),
            "sandbox": base.sandbox.model_copy(update=sandbox or {}),
        }
    )


async def open_rig(settings: Settings) -> Rig:
    clock = ManualClock()
    holder: dict[str, Rig] = {}
    app = create_app(settings, clock=clock, notify_transport=httpx.ASGITransport(app=_receiver(holder)))
    transport = httpx.ASGITransport(app=app)
    providers = build_providers(
        settings,
        transport=transport,
        clock=lambda: datetime.fromtimestamp(clock.now(), UTC),
        retry=RetryPolicy.instant(3),
    )
    control = httpx.AsyncClient(transport=transport, base_url=settings.wechatpay.base_url)
    rig = Rig(settings=settings, clock=clock, app=app, control=control, providers=providers)
    holder["rig"] = rig
    return rig


async def close_rig(rig: Rig) -> None:
    for provider in rig.providers.values():
        await provider.aclose()
    await rig.control.aclose()
    rig.app.state.ctx.store.close()


def notify_url(rig: Rig, gateway: str) -> str:
    return rig.settings.engine.public_url.rstrip("/") + f"/notify/{gateway}"
