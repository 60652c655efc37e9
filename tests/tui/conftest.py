"""TUI fixtures: the real engine and sandbox processes (one pair per test module, see support.py),
a real journal file per test with staff and PINs, and the app from the same make_app the CLI uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pos_app.api.client import EngineClient
from pos_app.config import Settings, load_settings
from pos_app.journal import add_staff, open_journal, session_scope
from pos_app.sandbox.demo import free_loopback_port, init_demo_profile
from tests.tui.support import Stack, start_stack

CASHIER = ("Demo Cashier", "1234")
MANAGER = ("Demo Manager", "9999")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    profile = init_demo_profile(tmp_path_factory.mktemp("stack") / "profile")
    yield from start_stack(load_settings(profile.config))


@pytest.fixture
def settings(stack: Stack, tmp_path: Path) -> Settings:
    return stack.terminal_settings(tmp_path)


@pytest.fixture
def journal_engine(settings: Settings) -> Iterator[Engine]:
    engine = open_journal(settings.path(settings.terminal.journal_path))
    with session_scope(engine) as session:
        add_staff(session, CASHIER[0], CASHIER[1], "cashier", terminal_id=settings.terminal.terminal_id)
        add_staff(session, MANAGER[0], MANAGER[1], "manager", terminal_id=settings.terminal.terminal_id)
    yield engine
    engine.dispose()


@pytest.fixture
def offline_client(settings: Settings) -> EngineClient:
    """A client whose engine is down: a loopback port nothing listens on."""
    return EngineClient(f"http://127.0.0.1:{free_loopback_port()}", settings.terminal.terminal_id, b"k" * 32)


@pytest.fixture
async def client(stack: Stack, settings: Settings) -> AsyncIterator[EngineClient]:
    engine_client = await stack.activated_client(settings)
    yield engine_client
    await engine_client.aclose()
