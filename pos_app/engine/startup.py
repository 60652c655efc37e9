"""What the engine prepares in its ledger before it serves: the ledger key file and sealed terminal
keys, and, for a sandbox profile, the demo manager who approves refunds and voids."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from pos_app.config import Settings
from pos_app.domain.staff import DEMO_STAFF, Role
from pos_app.engine.store.managers import seed_managers
from pos_app.engine.store.terminals import TerminalRegistry
from pos_app.engine.store.utc_columns import utcnow

log = logging.getLogger(__name__)


def prepare_ledger(ledger: Engine, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> TerminalRegistry:
    """The terminal registry over a migrated ledger (see ``TerminalRegistry.start``), after seeding a
    sandbox profile's store with the demo manager the till's training login shows (its PIN is public)."""
    registry = TerminalRegistry.start(ledger, settings.path(settings.engine.ledger_key_file), clock=clock)
    if settings.terminal.sandbox:
        demo = [(name, pin) for name, pin, role in DEMO_STAFF if role is Role.MANAGER]
        with Session(ledger) as session:
            added = seed_managers(session, store_id=settings.terminal.store_id, managers=demo, now=clock())
            session.commit()
        if added:
            log.info("sandbox profile: demo manager(s) added to store %s", settings.terminal.store_id)
    return registry
