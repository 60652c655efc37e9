"""What every use case of the till shares: the profile, the journal, the engine client, the clock and
the signed-in cashier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Self

from sqlalchemy import Engine

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.domain.errors import AuthorisationError
from pos_app.i18n import _
from pos_app.journal.db import open_journal

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TillCore:
    """The till's state; each use case (a mixin in its own module) works on it."""

    def __init__(
        self,
        settings: Settings,
        journal_engine: Engine,
        client: EngineClient,
        *,
        clock: Clock = utc_now,
        on_journal_write: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal_engine
        self.client = client
        self.clock = clock
        self.cashier: str | None = None
        #: (name, PIN, when) of the manager PIN last checked at this till: the next refund or void
        #: hands it to the engine, which checks it again (terminal/refunds.py).
        self.manager_approval: tuple[str, str, datetime] | None = None
        #: Approvals of refunds journaled but not yet received by the engine, by out_refund_no: a
        #: refund made offline is sent with its approval when the link returns. Memory only, never
        #: journaled (a restarted till asks for a new refund instead).
        self.refund_approvals: dict[str, tuple[str, str]] = {}
        #: When the engine sends a refund it was told to wait for (WeChat: one refund per order per
        #: minute), by out_refund_no; only the screen's words need it (the engine sends it by itself).
        self.refund_send_at: dict[str, datetime] = {}
        #: Called after every committed journal write (the app wakes the outbox upload with it).
        self.on_journal_write = on_journal_write
        #: Orders a screen is showing the cashier right now (see pos_app.terminal.alerts).
        self.watching: set[str] = set()
        #: Alerts this till raised since it started: the app re-reads the open alerts when it moves.
        self.alerts_raised = 0

    @classmethod
    def for_profile(
        cls, settings: Settings, client: EngineClient, *, journal_engine: Engine | None = None, clock: Clock = utc_now
    ) -> Self:
        """The till of a profile over its journal file (``[terminal] journal_path``, created and
        migrated on first use) unless ``journal_engine`` is given."""
        if journal_engine is None:
            journal_engine = open_journal(settings.path(settings.terminal.journal_path))
        return cls(settings, journal_engine, client, clock=clock)

    @property
    def terminal_id(self) -> str:
        return self.settings.terminal.terminal_id

    @property
    def store_id(self) -> str:
        return self.settings.terminal.store_id

    def _written(self) -> None:
        if self.on_journal_write is not None:
            self.on_journal_write()

    def _operator(self) -> str:
        if not self.cashier:
            raise AuthorisationError(_("Sign in with your PIN first."))
        return self.cashier
