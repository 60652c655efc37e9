"""Fixtures of the engine API contract tests (helpers live in api_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_support import STORE, TERMINAL, Stack, open_stack

from pos_app.api.client import EngineClient
from pos_app.config import Settings


@pytest.fixture(autouse=True)
def fast_resolver(demo_settings: Settings) -> None:
    """Settle unknown outcomes quickly (the default pass interval is 5 s)."""
    demo_settings.engine.resolver_interval_s = 0.2


@pytest.fixture
async def stack(demo_settings: Settings) -> AsyncIterator[Stack]:
    async with open_stack(demo_settings) as opened:
        yield opened


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[EngineClient]:
    """An activated terminal T001 of store S00001."""
    async with stack.client() as engine_client:
        await engine_client.activate(stack.new_code(), STORE, TERMINAL, "Till 1")
        yield engine_client
