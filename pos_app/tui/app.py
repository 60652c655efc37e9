"""The Textual app and its one factory, :func:`make_app`, used by `pos terminal` and by the tests.

The app owns what every screen shares: the :class:`~pos_app.terminal.till.Till` (journal + engine
client), the sign-in and sale navigation and the function-key actions. Its other jobs are parts it
inherits, one module each: the engine link's loops (:mod:`pos_app.tui.engine_link`), the start and
watchdog of the embedded default's children (:mod:`pos_app.tui.children_view`), the open money
alerts (:mod:`pos_app.tui.alerts_view`) and the one handler that turns any failed worker into a
message the cashier can act on, never a traceback (:mod:`pos_app.tui.worker_errors`). The sign-in
screen is drawn while the children start (a cashier can sign in and sell for cash meanwhile).
Screens see the app only through :class:`~pos_app.tui.context.TillApp` and never import this module.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from textual import work
from textual.binding import Binding
from textual.screen import Screen

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.i18n import _, set_language
from pos_app.sync.outbox import OutboxDrain
from pos_app.terminal.channels import CHANNELS_INTERVAL_S
from pos_app.terminal.core import utc_now
from pos_app.terminal.till import Till
from pos_app.terminal.wedge import DEFAULT_MAX_GAP_S
from pos_app.tui.alerts_view import AlertsView
from pos_app.tui.children_view import PROGRESS_INTERVAL_S, ChildrenView, Progress, Watchdog
from pos_app.tui.collector import Collector
from pos_app.tui.context import TillApp
from pos_app.tui.engine_link import SYNC_SETTLE_S, EngineLink
from pos_app.tui.modals.background import BackgroundModal
from pos_app.tui.screens.login import LoginScreen
from pos_app.tui.terminal_key import read_terminal_key
from pos_app.tui.worker_errors import WorkerErrors

__all__ = ["PROGRESS_INTERVAL_S", "SYNC_SETTLE_S", "PosApp", "Progress", "Watchdog", "make_app", "read_terminal_key"]

log = logging.getLogger(__name__)
#: The screens a cashier meets after signing in: imported where they are first used, not before the
#: sign-in screen is drawn (the checkout and its QR screen alone take about a tenth of the till's
#: start), and imported in a thread once it is drawn and the children's start is over, so the first
#: sale does not wait for them.
LATER_SCREENS = (
    "pos_app.tui.screens.checkout",
    "pos_app.tui.screens.pending",
    "pos_app.tui.screens.attention",
    "pos_app.tui.screens.dashboard",
    "pos_app.tui.screens.shift",
    "pos_app.tui.screens.help",
    "pos_app.tui.modals.pin",
)


class PosApp(EngineLink, ChildrenView, AlertsView, WorkerErrors):
    CSS_PATH = "styles/app.tcss"
    TITLE = "pos"
    ENABLE_COMMAND_PALETTE = False
    #: Screens kept once built and opened by name (they hold nothing of one visit for the next).
    SCREENS = {"help": lambda: _help_screen()}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
        Binding("f2", "dashboard", "Manager"),
        Binding("f3", "shift", "Shift"),
        Binding("f4", "attention", "Attention"),
        Binding("f5", "background", "Background processes"),
    ]

    def __init__(
        self,
        till: Till,
        *,
        sandbox: bool = False,
        watchdog: Watchdog | None = None,
        progress: Progress | None = None,
        wedge_max_gap_s: float = DEFAULT_MAX_GAP_S,
        health_interval_s: float = 3.0,
        poll_interval_s: float = 1.0,
        channels_interval_s: float = CHANNELS_INTERVAL_S,
        console_url: str | None = None,
    ) -> None:
        super().__init__()
        self.till = till
        self.sandbox = sandbox
        self.console_url = console_url
        # The state of the app's parts, which each part's module documents.
        self.watchdog = watchdog
        self.progress = progress
        initial = progress() if progress is not None else None
        self.starting = initial if initial is not None and not initial.done else None
        self.wedge_max_gap_s = wedge_max_gap_s
        self.health_interval_s = health_interval_s
        self.poll_interval_s = poll_interval_s
        self.channels_interval_s = channels_interval_s
        self.engine_online = None
        self.ever_online = False
        self.events_connected = False
        self.unsent = 0
        self.problem = None
        self.alerts = []
        self.alerts_read = -1
        self.drain = OutboxDrain(till.journal, till.client, till.terminal_id)
        self.sent_before_outage = None
        self.drain_stop = asyncio.Event()
        till.on_journal_write = self.journal_written
        self.collector = Collector()

    # -- shared state -------------------------------------------------------------------------------

    @property
    def cashier_name(self) -> str:
        return self.till.cashier or ""

    def on_mount(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.push_screen(LoginScreen())
        self.call_after_refresh(self.collector.sign_in_drawn)
        if self.starting is None:
            self.call_after_refresh(self.import_later_screens)
        self.health_loop()
        self.events_loop()
        self.sync_loop()
        self.channels_loop()
        self.set_interval(1.0, self.check_watchdog)
        if self.starting is not None:
            self.progress_timer = self.set_interval(PROGRESS_INTERVAL_S, self.check_progress)
        self.collector.start()
        self.set_interval(5.0, self.collect_if_idle)

    def on_unmount(self) -> None:
        self.collector.stop()

    @work(thread=True, group="import", exit_on_error=False)
    def import_later_screens(self) -> None:
        """The sign-in screen is drawn: import what comes after it while the cashier types."""
        for module in LATER_SCREENS:
            importlib.import_module(module)

    def collect_if_idle(self) -> None:
        """The collector's fallback: a full collection when none ran for a while and no sale is open."""
        from pos_app.tui.screens.checkout import CheckoutScreen

        screen = self.screen
        if not self.collector.overdue() or not isinstance(screen, CheckoutScreen | LoginScreen):
            return
        if isinstance(screen, CheckoutScreen) and screen.busy:
            return
        self.collector.idle()

    def after_login(self) -> None:
        """Logged in: settle what an earlier run left open, then the checkout; open money alerts
        (older ones, and those the settling raises) are shown before the first sale."""
        from pos_app.tui.screens.checkout import CheckoutScreen
        from pos_app.tui.screens.pending import PendingScreen

        self.switch_screen(CheckoutScreen())
        # Start-up is over: freeze what it built, once the checkout is on screen.
        self.call_after_refresh(self.collector.signed_in)
        self.catch_up_store()  # store-QR payments made while this till was closed
        if self.till.pending():
            # Shows the payments and settles them (refunds here); then the alerts, if any.
            self.push_screen(PendingScreen(), lambda _result: self.show_attention_if_any())
            self.settle_open(payments=False)
            return
        if self.till.open_refunds():
            self.settle_open()
        self.show_attention_if_any()

    def logout(self) -> None:
        self.till.logout()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(LoginScreen())

    def next_sale(self) -> None:
        """The sale is over (its result read): back to a clean checkout for the next customer."""
        from pos_app.tui.screens.checkout import CheckoutScreen

        self.pop_screen()
        if isinstance(self.screen, CheckoutScreen):
            self.screen.new_sale()

    def action_help(self) -> None:
        from pos_app.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen("help")

    def action_dashboard(self) -> None:
        """Ask for a manager PIN, then open the dashboard."""
        from pos_app.tui.modals.pin import ManagerPinModal
        from pos_app.tui.screens.dashboard import DashboardScreen

        if not self.till.cashier:
            self.notify(_("Sign in first."), severity="warning")
            return

        def approved(manager: str | None) -> None:
            if manager is not None:
                self.push_screen(DashboardScreen(manager))

        self.push_screen(ManagerPinModal(_("manager dashboard"), self.till.check_manager), approved)

    def action_attention(self) -> None:
        from pos_app.tui.screens.attention import AttentionScreen

        if not self.till.cashier:
            self.notify(_("Sign in first."), severity="warning")
        elif not isinstance(self.screen, AttentionScreen):
            self.push_screen(AttentionScreen())

    def action_background(self) -> None:
        if not isinstance(self.screen, BackgroundModal):
            self.push_screen(BackgroundModal(self.problem))

    def action_shift(self) -> None:
        from pos_app.tui.screens.shift import ShiftScreen

        if not self.till.cashier:
            self.notify(_("Sign in first."), severity="warning")
        elif not isinstance(self.screen, ShiftScreen):
            self.push_screen(ShiftScreen())


def make_app(
    settings: Settings,
    *,
    engine_client: EngineClient | None = None,
    journal_engine: Engine | None = None,
    watchdog: Watchdog | None = None,
    progress: Progress | None = None,
    sandbox: bool | None = None,
    clock: Callable[[], datetime] | None = None,
    **options: Any,
) -> PosApp:
    """Build the terminal app from a profile: the CLI and the tests use this same wiring.

    ``engine_client`` defaults to an :class:`EngineClient` on ``settings.terminal.engine_url`` with the
    stored terminal key; ``journal_engine`` to the journal at ``settings.terminal.journal_path``.
    """
    terminal = settings.terminal
    set_language(terminal.language)  # before any screen is built: screens translate as they compose
    if engine_client is None:
        key_file = settings.path(terminal.terminal_key_file)
        key = read_terminal_key(key_file)
        engine_client = EngineClient(terminal.engine_url, terminal.terminal_id, key)
    till = Till.for_profile(settings, engine_client, journal_engine=journal_engine, clock=clock or utc_now)
    app = PosApp(
        till,
        sandbox=terminal.sandbox if sandbox is None else sandbox,
        watchdog=watchdog,
        progress=progress,
        **options,
    )
    _as_screens_see_it: TillApp = app  # mypy checks here that the app offers what its screens use
    return app


def _help_screen() -> Screen[Any]:
    from pos_app.tui.screens.help import HelpScreen

    return HelpScreen()
