"""The real engine app over httpx's ASGI transport, its providers on the real sandbox app, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.engine.server import create_engine_app
from tests.contract.api.api_support import STORE, TERMINAL, Stack, _LateTransport, make_sandbox_app, running


@pytest.fixture(autouse=True)
def fast_resolver(demo_settings: Settings) -> None:
    demo_settings.engine.resolver_interval_s = 0.2
    # These tests read an order back after every forged notification, faster than a till ever
    # polls; the per-terminal limit has its own tests (tests/contract/edge).
    demo_settings.engine.rate_limit = "1000/second"


@pytest.fixture
async def stack(demo_settings: Settings) -> AsyncIterator[Stack]:
    late = _LateTransport()
    sandbox = make_sandbox_app(demo_settings, late)
    engine = create_engine_app(demo_settings, provider_transport=httpx.ASGITransport(sandbox))
    late.target = httpx.ASGITransport(engine)
    async with (
        running(sandbox),
        running(engine),
        httpx.AsyncClient(transport=httpx.ASGITransport(sandbox), base_url="http://sandbox.test") as sandbox_http,
    ):
        yield Stack(demo_settings, sandbox, engine, sandbox_http)


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[EngineClient]:
    """An activated terminal T001 of store S00001."""
    async with stack.client() as engine_client:
        await engine_client.activate(stack.new_code(), STORE, TERMINAL, "Till 1")
        yield engine_client
