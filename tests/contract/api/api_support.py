"""Support for the engine API contract tests: the real engine app (a real SQLite ledger) served over
httpx's ASGI transport, its providers talking to the real sandbox app in-process, and the terminal's
real EngineClient.

The sandbox's notifications are delivered to the engine app in-process too (its notifier's
transport), so the whole loop runs without a port. SSE needs a streaming transport: those tests serve
the engine with uvicorn on a loopback port (`serve_on_loopback`), optionally behind a `LinkProxy`
they can cut.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.engine.server import create_engine_app
from pos_app.engine.store.terminals import TerminalRegistry
from tests.link_proxy import free_port

STORE, TERMINAL = "S00001", "T001"
ENGINE_URL = "http://engine.test"


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan (httpx.ASGITransport does not)."""
    async with app.router.lifespan_context(app):
        yield


def make_sandbox_app(settings: Settings, engine_transport: httpx.AsyncBaseTransport | None) -> Any:
    from pos_app.sandbox.app import create_app

    try:
        return create_app(settings, notify_transport=engine_transport)
    except TypeError:
        return create_app(settings)


@dataclass
class Stack:
    settings: Settings
    sandbox: FastAPI
    engine: FastAPI
    sandbox_http: httpx.AsyncClient

    @property
    def registry(self) -> TerminalRegistry:
        registry: TerminalRegistry = self.engine.state.engine.registry
        return registry

    def new_code(self, **kwargs: Any) -> str:
        return self.registry.new_activation_code(ttl=timedelta(minutes=10), **kwargs)

    def client(self, terminal_id: str = TERMINAL, key: bytes | None = None, **kwargs: Any) -> EngineClient:
        return EngineClient(ENGINE_URL, terminal_id, key, transport=httpx.ASGITransport(self.engine), **kwargs)

    async def auth_code(self, channel: str, *, password_seconds: float = 0, **extra: Any) -> str:
        response = await self.sandbox_http.post(
            "/sandbox/authcodes", json={"channel": channel, "password_seconds": password_seconds, **extra}
        )
        response.raise_for_status()
        return str(response.json()["auth_code"])

    async def pay_qr(self, code_url: str, **extra: Any) -> dict[str, Any]:
        response = await self.sandbox_http.post("/sandbox/pay", json={"qr": code_url, **extra})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@contextlib.asynccontextmanager
async def open_stack(settings: Settings) -> AsyncIterator[Stack]:
    """The engine and the sandbox apps started, each talking to the other in-process."""
    late = _LateTransport()
    sandbox = make_sandbox_app(settings, late)
    engine = create_engine_app(settings, provider_transport=httpx.ASGITransport(sandbox))
    late.target = httpx.ASGITransport(engine)
    async with (
        running(sandbox),
        running(engine),
        httpx.AsyncClient(transport=httpx.ASGITransport(sandbox), base_url="http://sandbox.test") as sandbox_http,
    ):
        yield Stack(settings, sandbox, engine, sandbox_http)


class _LateTransport(httpx.AsyncBaseTransport):
    """The engine app does not exist yet when the sandbox is built: deliver to it once it does."""

    def __init__(self) -> None:
        self.target: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.target is None:
            raise httpx.ConnectError("engine not started yet", request=request)
        return await self.target.handle_async_request(request)


@contextlib.asynccontextmanager
async def serve_on_loopback(app: Any) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """Serve an (already started) ASGI app with uvicorn on a free loopback port, in this event loop."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
