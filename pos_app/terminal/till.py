"""One terminal's till: every use case on the one object the screens (and headless drivers) hold.

Each use case lives in its own module, as a mixin over :class:`~pos_app.terminal.core.TillCore`:
staff (PINs), sales (wallet payments), settling (what is open), refunds, cash, shifts, reports,
history, receipts, the link to the engine, the wallet channels it offers and the store QR's
payments. Screens call these from workers; nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import Engine

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.terminal.cash import Cash
from pos_app.terminal.channels import ChannelBoard, Channels
from pos_app.terminal.core import Clock, utc_now
from pos_app.terminal.history import History
from pos_app.terminal.link import Link
from pos_app.terminal.reports import Reports
from pos_app.terminal.sales import Sales
from pos_app.terminal.settling import Settling
from pos_app.terminal.shifts import Shifts
from pos_app.terminal.staff import Staff
from pos_app.terminal.store_qr import StoreQr


class Till(Staff, Sales, Settling, Cash, Shifts, Reports, History, Link, Channels, StoreQr):
    """One terminal's use cases over its journal (SQLite) and its engine client."""

    def __init__(
        self,
        settings: Settings,
        journal_engine: Engine,
        client: EngineClient,
        *,
        clock: Clock = utc_now,
        on_journal_write: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(settings, journal_engine, client, clock=clock, on_journal_write=on_journal_write)
        # Nothing known yet: every wallet key is offered until the first look (the engine refuses a
        # payment on a failing channel by itself meanwhile).
        self.channel_board = ChannelBoard()
        self.channels_due = asyncio.Event()
