"""The sandbox ASGI app: simulated WeChat Pay v3 and Alipay gateways, the wallet, faults, HQ.

``create_app(settings)`` is what ``pos sandbox serve`` runs and what tests mount on
``httpx.ASGITransport``. The app holds one :class:`~pos_app.sandbox.context.SandboxContext` in
``app.state.ctx``. Background work (completing due payments/refunds, delivering notifications)
runs in the app's lifespan — i.e. under a real server. Over ``httpx.ASGITransport`` there is no
lifespan: tests drive it with ``await ctx.step()`` (or ``POST /sandbox/tick``), which makes them exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from pos_app.config import Settings
from pos_app.sandbox import control, hq
from pos_app.sandbox.clock import Clock, SystemClock
from pos_app.sandbox.context import (
    SandboxContext,
    registered_preparers,
    registered_setups,
    registered_tickers,
)
from pos_app.sandbox.faults import FaultRegistry, ReplyLostMiddleware
from pos_app.sandbox.keys import load_sandbox_keys
from pos_app.sandbox.notifier import Notifier
from pos_app.sandbox.store import SandboxStore

log = logging.getLogger(__name__)

TICK_INTERVAL_S = 0.05


def _gateway_routers() -> list[object]:
    from pos_app.sandbox.wechat import routes as wechat_routes
    from pos_app.sandbox.wechat import web_routes as wechat_web_routes

    routers: list[object] = [wechat_routes.router, wechat_web_routes.router]
    # The Alipay simulator lives in its own package; mount it when present.
    if importlib.util.find_spec("pos_app.sandbox.alipay.routes") is not None:
        from pos_app.sandbox.alipay import routes as alipay_routes
        from pos_app.sandbox.alipay import web_routes as alipay_web_routes

        routers.extend([alipay_routes.router, alipay_web_routes.router])
    return routers


def build_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notify_transport: httpx.AsyncBaseTransport | None = None,
    fault_seed: int = 0,
) -> SandboxContext:
    clock = clock or SystemClock()
    platform_certs = 1 if settings.sandbox.wechat_mode == "platform_cert" else 0
    keys = load_sandbox_keys(settings.path(settings.sandbox.keys_dir), platform_certs=platform_certs)
    store = SandboxStore(settings.path(settings.sandbox.state_path))
    faults = FaultRegistry(seed=fault_seed)
    notifier = Notifier(store, clock, faults, time_scale=settings.sandbox.time_scale, transport=notify_transport)
    ctx = SandboxContext(settings=settings, keys=keys, store=store, clock=clock, faults=faults, notifier=notifier)
    return ctx


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notify_transport: httpx.AsyncBaseTransport | None = None,
    fault_seed: int = 0,
) -> FastAPI:
    """The sandbox app. ``notify_transport`` routes notifications (tests: an ASGI app's transport)."""
    routers = _gateway_routers()  # importing them registers their hooks
    ctx = build_context(settings, clock=clock, notify_transport=notify_transport, fault_seed=fault_seed)
    for setup in registered_setups().values():
        setup(ctx)
    ctx.tickers = registered_tickers()
    for gateway, factory in registered_preparers().items():
        ctx.notifier.register_preparer(gateway, factory(ctx))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def ticking() -> None:
            while not stop.is_set():
                try:
                    ctx.tick()
                except Exception:
                    log.exception("sandbox tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=TICK_INTERVAL_S)

        tasks = [asyncio.create_task(ticking()), asyncio.create_task(ctx.notifier.run(stop))]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            ctx.store.close()

    app = FastAPI(
        title="pos_app sandbox",
        description="Simulated WeChat Pay v3 and Alipay gateways (training mode, no real money).",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_middleware(ReplyLostMiddleware)
    for router in routers:
        app.include_router(router)  # type: ignore[arg-type]
    app.include_router(control.router)
    app.include_router(hq.router)
    return app
