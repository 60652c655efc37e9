"""Fixtures of the HTTP edge tests: the real engine and sandbox apps in-process (real SQLite ledger)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pos_app.config import Settings
from tests.contract.api.api_support import Stack, open_stack


@pytest.fixture(autouse=True)
def fast_resolver(demo_settings: Settings) -> None:
    """Settle unknown outcomes quickly (the default pass interval is 5 s)."""
    demo_settings.engine.resolver_interval_s = 0.2


@pytest.fixture
async def stack(demo_settings: Settings) -> AsyncIterator[Stack]:
    async with open_stack(demo_settings) as opened:
        yield opened
