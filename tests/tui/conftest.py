"""TUI fixtures: a real journal file in a real demo profile, staff with PINs, the app from make_app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from pos_app.config import Settings
from pos_app.engine.client import EngineClient
from pos_app.journal import add_staff, open_journal, session_scope
from pos_app.sandbox.demo import free_loopback_port

CASHIER = ("Demo Cashier", "1234")
MANAGER = ("Demo Manager", "9999")


@pytest.fixture
def journal_engine(demo_settings: Settings) -> Iterator[Engine]:
    engine = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    with session_scope(engine) as session:
        add_staff(session, CASHIER[0], CASHIER[1], "cashier", terminal_id=demo_settings.terminal.terminal_id)
        add_staff(session, MANAGER[0], MANAGER[1], "manager", terminal_id=demo_settings.terminal.terminal_id)
    yield engine
    engine.dispose()


@pytest.fixture
def offline_client(demo_settings: Settings) -> EngineClient:
    """A client whose engine is down: a loopback port nothing listens on."""
    return EngineClient(f"http://127.0.0.1:{free_loopback_port()}", demo_settings.terminal.terminal_id, b"k" * 32)
