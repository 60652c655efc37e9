"""The engine's use cases against the sandbox, in-process over httpx.ASGITransport.

One :class:`FakeTime` drives everything: the sandbox clock, the providers' clock and the service's
clock. The use cases' injected ``sleep`` moves that time forward and lets the sandbox do what became
due (complete password entries, deliver notifications), so a 45 s poll-then-reverse runs instantly.
Notifications from the sandbox are posted to a tiny ASGI app that calls
``Notifications.handle_notification`` with the raw body and headers, like the real server does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from pos_app.config import Settings
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel
from pos_app.engine.context import Timings
from pos_app.engine.notify.group_commit import GroupCommitWriter
from pos_app.engine.notify.notifications import Notifications
from pos_app.engine.notify.records import insert_inbox
from pos_app.engine.providers import RetryPolicy, build_providers
from pos_app.engine.providers.base import Notification, PaymentProvider, TradeResult
from pos_app.engine.store import open_ledger
from pos_app.engine.store.managers import hash_pin, put_manager
from pos_app.engine.store.models import Attempt
from pos_app.engine.wiring import UseCases, build_use_cases
from pos_app.sandbox.app import create_app
from pos_app.sandbox.context import SandboxContext

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class FakeTime:
    """Shared clock: ``now()`` (Unix seconds) for the sandbox, ``()`` (aware datetime) for the engine."""

    def __init__(self) -> None:
        self.t = time.time()

    def now(self) -> float:
        return self.t

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    def advance(self, seconds: float) -> None:
        self.t += seconds


class NotifyReceiver:
    """The engine's notification endpoints, reduced to what the sandbox posts to."""

    def __init__(self) -> None:
        self.notifications: Notifications | None = None
        self.answers: list[tuple[str, int]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []  # what the sandbox posted, raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append((scope["path"], headers, body))
        channel = {"/notify/wechatpay": Channel.WECHAT, "/notify/alipay": Channel.ALIPAY}.get(scope["path"])
        if channel is None or self.notifications is None:
            status, payload, media = 404, b"", "text/plain"
        else:
            ack = await self.notifications.handle_notification(channel, headers, body)
            status, payload, media = ack.status_code, ack.body, ack.media_type
        self.answers.append((scope["path"], status))
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", media.encode())]})
        await send({"type": "http.response.body", "body": payload})


@dataclass
class Rig:
    settings: Settings
    time: FakeTime
    ctx: SandboxContext
    sandbox: httpx.AsyncClient  # control endpoints of the sandbox (the customer's side)
    providers: dict[Channel, PaymentProvider]
    ledger: Engine
    engine: UseCases
    receiver: NotifyReceiver
    sleeps: list[float]

    async def sleep(self, seconds: float) -> None:
        """The service's sleep: time passes, the sandbox does what became due."""
        self.sleeps.append(seconds)
        self.time.advance(seconds)
        await self.ctx.step()
        await asyncio.sleep(0)

    async def step(self, seconds: float = 0.0) -> None:
        self.time.advance(seconds)
        await self.ctx.step()

    async def authcode(self, channel: str, **options: Any) -> str:
        r = await self.sandbox.post("/sandbox/authcodes", json={"channel": channel, **options})
        r.raise_for_status()
        return str(r.json()["auth_code"])

    async def pay_qr(self, qr: str, *, after_s: float = 0, fail: str | None = None) -> dict[str, Any]:
        r = await self.sandbox.post("/sandbox/pay", json={"qr": qr, "after_s": after_s, "fail": fail})
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result

    async def fault(self, **spec: Any) -> None:
        r = await self.sandbox.post("/sandbox/faults", json=spec)
        r.raise_for_status()

    async def clear_faults(self) -> None:
        (await self.sandbox.delete("/sandbox/faults")).raise_for_status()

    async def truth(self, channel: Channel, out_trade_no: str) -> TradeResult:
        """The gateway's own view of the order (the sandbox's truth), faults cleared."""
        await self.clear_faults()
        return await self.providers[channel].query(out_trade_no)

    def notifications(self, out_trade_no: str) -> list[Any]:
        return self.ctx.notifier.list(out_trade_no=out_trade_no)

    def new_engine(self, *, sleep: Any = None, **timings: Any) -> UseCases:
        """Another engine process on the same ledger (a restart, or a second instance); ``sleep`` may be replaced."""
        return build_use_cases(
            self.ledger,
            self.providers,
            self.settings,
            clock=self.time,
            sleep=sleep or self.sleep,
            timings=Timings(**timings),
        )


def make_rig(settings: Settings, *, database_url: str | None = None) -> Rig:
    clock = FakeTime()
    receiver = NotifyReceiver()
    sandbox_app = create_app(settings, clock=clock, notify_transport=httpx.ASGITransport(app=receiver))
    ctx: SandboxContext = sandbox_app.state.ctx
    transport = httpx.ASGITransport(app=sandbox_app)
    providers = build_providers(settings, transport=transport, clock=clock, retry=RetryPolicy.instant())
    ledger = open_ledger(database_url or settings.database_url)
    sleeps: list[float] = []
    rig = Rig(
        settings=settings,
        time=clock,
        ctx=ctx,
        sandbox=httpx.AsyncClient(transport=transport, base_url="http://sandbox"),
        providers=providers,
        ledger=ledger,
        engine=None,  # type: ignore[arg-type]
        receiver=receiver,
        sleeps=sleeps,
    )
    rig.engine = rig.new_engine()
    receiver.notifications = rig.engine.notifications
    with Session(ledger) as session:
        put_manager(session, store_id=STORE, name=MANAGER, pin_hash=hash_pin(MANAGER_PIN), now=clock())
        session.commit()
    return rig


@pytest.fixture(scope="session")
def profile_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo profile per session: generating its RSA keys is the slow part of a setup."""
    from pos_app.sandbox.demo import init_demo_profile

    return init_demo_profile(tmp_path_factory.mktemp("engine-template") / "profile").home


@pytest.fixture
def engine_settings(profile_template: Path, tmp_path: Path) -> Settings:
    """A fresh copy of the template profile: same keys, empty ledger and sandbox state."""
    import shutil

    from pos_app.config import load_settings

    home = tmp_path / "profile"
    shutil.copytree(profile_template, home)
    return load_settings(home / "pos.toml")


@pytest.fixture
async def rig(engine_settings: Settings) -> AsyncIterator[Rig]:
    r = make_rig(engine_settings)
    yield r
    await r.engine.aclose()
    await r.sandbox.aclose()
    for provider in r.providers.values():
        await provider.aclose()
    r.ledger.dispose()


def db_path(settings: Settings) -> Path:
    return Path(settings.database_url[len("sqlite:///") :])


# ---- helpers shared by the tests ------------------------------------------------------------

TERMINAL, STORE = "T001", "S00001"
#: The manager the rig's ledger knows for STORE (refunds and voids carry this approval).
MANAGER, MANAGER_PIN = "Demo Manager", "9999"
APPROVAL: dict[str, Any] = {"approver": MANAGER, "approver_pin": MANAGER_PIN}
_SEQ = iter(range(1, 10**6))


def new_trade_no(kind: str = "P", terminal: str = TERMINAL) -> str:
    """A number of ``terminal`` of STORE (the engine refuses a number another terminal made)."""
    return make_trade_no(IdKind(kind), store=STORE, terminal=terminal, seq=next(_SEQ), at=datetime.now())


def wechat_routes_ready() -> bool:
    from pos_app.sandbox.wechat import routes

    return bool(getattr(routes, "router", None) and routes.router.routes)


CHANNELS = [
    pytest.param(
        Channel.WECHAT,
        id="wechat",
        marks=pytest.mark.skipif(not wechat_routes_ready(), reason="WeChat sandbox routes not there yet"),
    ),
    pytest.param(Channel.ALIPAY, id="alipay"),
]


def micropay_req(auth_code: str, amount_fen: int = 1234, otn: str | None = None, **extra: Any) -> Any:
    from pos_app.api.schemas import CreatePayment
    from pos_app.domain.routing import PaymentMode

    return CreatePayment(
        out_trade_no=otn or new_trade_no(),
        amount_fen=amount_fen,
        mode=PaymentMode.MICROPAY,
        auth_code=auth_code,
        subject="Coffee",
        operator="alice",
        **extra,
    )


def native_req(channel: Channel, amount_fen: int = 2500, otn: str | None = None, **extra: Any) -> Any:
    from pos_app.api.schemas import CreatePayment
    from pos_app.domain.routing import PaymentMode

    return CreatePayment(
        out_trade_no=otn or new_trade_no(),
        amount_fen=amount_fen,
        mode=PaymentMode.NATIVE,
        channel=channel,
        subject="Lunch",
        operator="alice",
        **extra,
    )


async def assert_matches_truth(rig: Rig, channel: Channel, out_trade_no: str) -> None:
    """The ledger's final state says what the gateway says: money in, or definitely no money."""
    from pos_app.domain.states import MONEY_IN_STATES, SETTLED_STATES, PaymentState
    from pos_app.engine.providers.base import OrderNotFound

    view = await rig.engine.payments.find_payment(out_trade_no)
    assert view.state in SETTLED_STATES, f"{out_trade_no} left {view.state}"
    try:
        truth = await rig.truth(channel, out_trade_no)
    except OrderNotFound:
        assert view.state in (PaymentState.FAILED, PaymentState.CLOSED, PaymentState.REVERSED)
        return
    paid_at_gateway = truth.state in MONEY_IN_STATES or truth.state == PaymentState.REFUNDED
    if view.state in (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED):
        assert paid_at_gateway, f"ledger {view.state}, gateway {truth.state}"
        assert truth.transaction_id == view.transaction_id
        assert truth.amount_fen in (None, view.amount_fen)
    else:
        assert not paid_at_gateway, f"ledger {view.state} but the gateway holds the money ({truth.state})"


def attempts_for(session: Session, out_trade_no: str) -> list[Attempt]:
    """The gateway calls recorded for a payment, in order."""
    stmt = select(Attempt).where(Attempt.out_trade_no == out_trade_no).order_by(col(Attempt.id))
    return list(session.exec(stmt).all())


def attempts(rig: Rig, out_trade_no: str, op: str | None = None) -> list[Attempt]:
    with Session(rig.ledger) as session:
        rows = attempts_for(session, out_trade_no)
    return [a for a in rows if op is None or a.op == op]


def group_commit(rig: Rig) -> GroupCommitWriter:
    """The SQLite ledger's group-commit notification writer."""
    writer = rig.engine.notifications.group_commit
    assert writer is not None
    return writer


def record_unapplied(rig: Rig, n: Notification, body: bytes, received_at: datetime) -> None:
    """A verified notification recorded in the inbox but not applied (the apply failed or the process
    stopped in between)."""
    with Session(rig.ledger) as session:
        insert_inbox(session.connection(), n, body, received_at)
        session.commit()


def event_states(rig: Rig, out_trade_no: str) -> list[str]:
    import json

    from sqlmodel import Session, col, select

    from pos_app.engine.store.models import StatusEvent

    with Session(rig.ledger) as session:
        rows = session.exec(
            select(StatusEvent).where(StatusEvent.out_trade_no == out_trade_no).order_by(col(StatusEvent.id))
        ).all()
    return [json.loads(r.payload)["payment"]["state"] for r in rows]
