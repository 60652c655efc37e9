"""The Textual app and its one factory, :func:`make_app`, used by `pos terminal` and by the tests.

The app owns what every screen shares: the :class:`~pos_app.terminal.till.Till` (journal + engine
client), the engine's online state, the count of unsent journal events, and the event stream that
turns engine notifications into :class:`PaymentUpdated` messages, the open money alerts (shown in a
banner, listed on F4 and again at sign-in) and the state of the background processes (F5) — their
start too: the sign-in screen is drawn while the embedded default's engine and sandbox start, and
the status bar follows them (a cashier can sign in and sell for cash meanwhile). One handler turns
any failed worker into a message the cashier can act on — never a traceback. Screens see the app
only through :class:`~pos_app.tui.context.TillApp` and never import this module.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient
from pos_app.api.schemas import PaymentView
from pos_app.config import Settings
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.i18n import _, set_language
from pos_app.sync.outbox import OutboxDrain
from pos_app.terminal.alerts import Alert
from pos_app.terminal.background import BackgroundProblem, StartProgress, StartState
from pos_app.terminal.channels import CHANNELS_INTERVAL_S, ChannelBoard
from pos_app.terminal.core import utc_now
from pos_app.terminal.error_words import describe
from pos_app.terminal.store_qr import NO_SHIFT, StorePayment
from pos_app.terminal.text import channel_name
from pos_app.terminal.till import Till
from pos_app.terminal.wedge import DEFAULT_MAX_GAP_S
from pos_app.tui.collector import Collector
from pos_app.tui.context import TillApp
from pos_app.tui.messages import PaymentUpdated
from pos_app.tui.modals.background import BackgroundModal
from pos_app.tui.screens.login import LoginScreen
from pos_app.tui.widgets.status_bar import StatusBar

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
#: Quiet time after a journal write before the outbox is uploaded (see OutboxDrain.run).
SYNC_SETTLE_S = 0.5

#: Returns the problem of a process outside the app (a crashed child of the embedded default), or None.
Watchdog = Callable[[], BackgroundProblem | None]
#: Returns where the embedded default's children are in their start (read until every one is done).
Progress = Callable[[], StartProgress]
#: How often the start of the children is looked at (the engine goes online at the next look).
PROGRESS_INTERVAL_S = 0.05


class PosApp(App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "pos"
    ENABLE_COMMAND_PALETTE = False
    #: Screens kept once built and opened by name (they hold nothing of one visit for the next).
    SCREENS = {"help": lambda: _help_screen()}
    #: The app's event loop (set on mount): journal writes made in worker threads are announced on it.
    loop: asyncio.AbstractEventLoop
    #: Follows the children's start (set on mount when there is a start to follow).
    progress_timer: Timer
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
        self.watchdog = watchdog
        self.progress = progress
        #: The children's start while it is under way (None: nothing starting, or done).
        initial = progress() if progress is not None else None
        self.starting: StartProgress | None = initial if initial is not None and not initial.done else None
        self.wedge_max_gap_s = wedge_max_gap_s
        self.health_interval_s = health_interval_s
        self.poll_interval_s = poll_interval_s
        self.channels_interval_s = channels_interval_s
        self.engine_online: bool | None = None
        #: The engine answered at least once since the till started.
        self.ever_online = False
        self.events_connected = False
        self.unsent = 0
        self.problem: BackgroundProblem | None = None
        #: The money alerts no cashier has acknowledged yet (re-read when the till raises one).
        self.alerts: list[Alert] = []
        #: ``till.alerts_raised`` when the alerts were last read.
        self.alerts_read = -1
        self.drain = OutboxDrain(till.journal, till.client, till.terminal_id)
        #: Events already sent when the link went down; set while a "caught up" notice is owed.
        self.sent_before_outage: int | None = None
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

    def show_attention_if_any(self) -> None:
        from pos_app.tui.screens.attention import AttentionScreen

        self.check_alerts()
        if self.alerts and not isinstance(self.screen, AttentionScreen):
            self.push_screen(AttentionScreen())

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

    def check_alerts(self) -> None:
        """Re-read the open alerts when the till raised one (or a cashier acknowledged one)."""
        if self.alerts_read == self.till.alerts_raised:
            return
        before = {alert.id for alert in self.alerts}
        self.alerts_read = self.till.alerts_raised
        self.alerts = self.till.open_alerts()
        for alert in self.alerts:
            if alert.id not in before:
                self.bell()
                self.notify(
                    f"{alert.headline()}\n{alert.action()}", title=_("Money alert — F4"), severity="error", timeout=30
                )

    def alerts_changed(self) -> None:
        """A screen acknowledged an alert: read them again."""
        self.alerts_read = -1
        self.check_alerts()

    def action_shift(self) -> None:
        from pos_app.tui.screens.shift import ShiftScreen

        if not self.till.cashier:
            self.notify(_("Sign in first."), severity="warning")
        elif not isinstance(self.screen, ShiftScreen):
            self.push_screen(ShiftScreen())

    # -- engine link ------------------------------------------------------------------------------

    def engine_starting(self) -> bool:
        """The embedded default's engine is still starting (not away: the status bar says so)."""
        return self.starting is not None and self.starting.state("engine") is StartState.STARTING

    def check_progress(self) -> None:
        """Follow the children's start: the engine counts as online the moment it answers."""
        if self.progress is None or self.starting is None:
            return
        before, now = self.starting, self.progress()
        if now == before:
            return
        self.starting = None if now.done else now
        if before.state("engine") is StartState.STARTING and now.state("engine") is StartState.READY:
            self.health_loop()  # exclusive: a look now, not after the loop's sleep
            if not self.events_connected:
                self.events_loop()  # the stream failed while the engine started: follow it now
        if now.done:
            self.progress_timer.stop()
            self.check_watchdog()  # a child that did not start is said at once
            self.import_later_screens()  # not before: the children's start has the CPU first
        self.status_changed()

    def status_changed(self) -> None:
        """Redraw the status bar now rather than at its next half-second look."""
        if not self.screen_stack:  # starting or ending: no screen to redraw
            return
        for bar in self.screen.query(StatusBar):
            bar.refresh_status()

    def check_watchdog(self) -> None:
        if self.watchdog is None:
            return
        problem = self.watchdog()
        if problem is not None and problem != self.problem:
            self.notify(problem.notice(), title=_("Background process"), severity="error", timeout=30)
        elif problem is None and self.problem is not None:
            self.notify(
                _("The {name} is running again.").format(name=self.problem.name()), title=_("Background process")
            )
        self.problem = problem

    @work(exclusive=True, group="health", exit_on_error=False)
    async def health_loop(self) -> None:
        while True:
            online = await self.till.engine_reachable()
            if online is False and self.engine_online:
                self.notify(_("Engine unreachable — cash only until it is back."), severity="error")
            elif online and self.engine_online is False:
                if self.ever_online:  # not when it comes up at start: the status bar says that
                    self.notify(_("Engine back online — QR and scan payments work again."))
                self.link_returned()
            if online != self.engine_online:
                self.till.recheck_channels()  # grey the wallet keys (or offer them again) now
            if online is False and self.sent_before_outage is None and not self.engine_starting():
                self.sent_before_outage = self.till.sent_count()
            self.ever_online = self.ever_online or online
            changed = online != self.engine_online
            self.engine_online = online
            self.unsent = self.till.unsent_count()
            self.check_caught_up()
            if changed:
                self.status_changed()
            await asyncio.sleep(self.health_interval_s)

    @work(exclusive=True, group="channels", exit_on_error=False)
    async def channels_loop(self) -> None:
        """Keep the till's board of wallet channels fresh (the checkout greys a refused channel's key)."""
        await self.till.watch_channels(self.channels_changed, self.channels_interval_s)

    def channels_changed(self, before: ChannelBoard, after: ChannelBoard) -> None:
        """Say it once when a wallet channel goes down or comes back (the engine's absence has its own)."""
        if after.engine_away or before.engine_away:
            return
        for channel, words in after.down.items():
            if channel not in before.down:
                self.notify(_(words), title=_("Payment channel"), severity="warning", timeout=10)
        for channel in before.down:
            if channel not in after.down:
                again = _("{channel} works again.").format(channel=channel_name(channel))
                self.notify(again, title=_("Payment channel"))

    def link_returned(self) -> None:
        """The engine is back: drain the outbox now (not after the backoff), settle what is open."""
        self.sync_loop()  # exclusive: replaces the loop sleeping in its backoff; replays are harmless
        self.settle_open()
        self.catch_up_store()

    def payments_on_screen(self) -> set[str] | None:
        """Orders a payment screen is following right now (never settled behind the cashier's back);
        None while a payment screen has no order yet (one may be being created: settle nothing)."""
        from pos_app.tui.screens.payment import PaymentScreen

        busy: set[str] = set()
        for screen in self.screen_stack:
            if isinstance(screen, PaymentScreen) and not screen.done:
                if screen.attempt is None:
                    return None
                busy.add(screen.attempt.out_trade_no)
        return busy

    def check_caught_up(self) -> None:
        if self.sent_before_outage is None or not self.engine_online:
            return
        if self.till.unsent_count() != 0 or self.drain.status.error:
            return
        sent = self.till.sent_count() - self.sent_before_outage
        self.sent_before_outage = None
        self.notify(_("Back online — {n} events sent, caught up").format(n=sent), title=_("Sync"))

    @work(exclusive=True, group="settle-open", exit_on_error=False)
    async def settle_open(self, *, payments: bool = True) -> None:
        """Settle every open payment and refund through the engine, off the cashier's path."""
        busy = self.payments_on_screen()
        report = await self.till.settle_all(payments=payments and busy is not None, skip=busy or ())
        if report.failures:
            log.warning("%d open payments/refunds not settled yet", len(report.failures))
        if report.settled:
            self.notify(
                _("{n} open payments/refunds settled with the engine.").format(n=report.settled), title=_("Settled")
            )

    @work(exclusive=True, group="events", exit_on_error=False)
    async def events_loop(self) -> None:
        """Follow the engine's event stream; reconnect with the last id after any break."""
        last_id = 0
        while True:
            try:
                async for event in self.till.client.events(last_id):
                    self.events_connected = True
                    last_id = event.event_id
                    if event.refund is not None:
                        self.till.apply_refund(event.refund)
                    self.payment_changed(event.payment)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused (e.g. not activated): polling carries the screens
                log.warning("event stream ended: %s", exc.__class__.__name__)
            self.events_connected = False
            await asyncio.sleep(5.0)

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def sync_loop(self) -> None:
        """Upload the journal outbox to the engine, in order, at least once."""
        # Uploads wait for a quiet moment after a write, so they never slow a payment being taken.
        await self.drain.run(self.drain_stop, idle_s=2.0, settle_s=SYNC_SETTLE_S)

    def journal_written(self) -> None:
        """A journal write committed, on the event loop or in a worker's thread: wake the upload."""
        # asyncio.Event is not thread-safe: it is set on the loop, whichever thread wrote.
        self.loop.call_soon_threadsafe(self.drain.wake.set)
        if self.alerts_read != self.till.alerts_raised:
            self.loop.call_soon_threadsafe(self.check_alerts)

    def payment_changed(self, view: PaymentView) -> None:
        """Journal the new state and tell every screen (the one showing it updates itself).

        A final state is journaled before any screen shows it. A step on the way (the order awaiting
        its scan, the customer entering a password) is shown first and journaled right after the
        screen refreshed: it usually arrives while the cashier's screen is being drawn, and losing it
        in a crash changes nothing (the open payment is settled through the engine on the next start).
        """
        if view.mode is PaymentMode.STORE_QR:
            self.store_view(view)  # a customer paid the printed code: journaled once PAID, said on screen
        elif view.state in SETTLED_STATES:
            self.journal_view(view)
        elif view.state is not PaymentState.CREATED:  # CREATED is what the intent journaled: no news
            self.call_after_refresh(self.journal_view, view)
        for screen in self.screen_stack:
            screen.post_message(PaymentUpdated(view))

    @work(exclusive=True, group="store-qr", exit_on_error=False)
    async def catch_up_store(self) -> None:
        """Store-QR payments made while the event stream was not heard (link down, till closed)."""
        for payment in await self.till.catch_up_store():
            self.store_paid(payment)

    def store_paid(self, payment: StorePayment) -> None:
        """Say a store-QR payment that was just journaled: a line the cashier sees whatever the screen."""
        self.bell()
        self.notify(payment.words(), title=_("Store QR"), timeout=20)
        if payment.no_shift:
            self.notify(_(NO_SHIFT), title=_("Store QR"), severity="warning", timeout=20)

    def store_view(self, view: PaymentView) -> None:
        try:
            payment = self.till.record_store_view(view)
        except Exception as exc:  # the catch-up on the next link change journals it
            log.warning("could not journal store payment %s: %s", view.out_trade_no, exc.__class__.__name__)
            return
        if payment is not None:
            self.store_paid(payment)

    def journal_view(self, view: PaymentView) -> None:
        try:
            self.till.apply_view(view)
        except Exception as exc:
            log.warning("could not journal %s: %s", view.out_trade_no, exc.__class__.__name__)

    # -- the one error handler -------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_state_changed(event)

    def worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's failure, the app's own and (forwarded, since ``Worker.StateChanged`` does not
        bubble) each screen's: worded for the cashier, then handed to the screen's ``worker_failed``."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        if event.worker.group in {"health", "events"}:
            log.warning("background worker %s failed: %r", event.worker.group, error)
        message = describe(error)
        if message.unexpected:
            log.exception("worker %s failed", event.worker.name, exc_info=error)
        self.notify(message.text, title=message.title, severity=message.severity, timeout=10)  # type: ignore[arg-type]
        # The screen (or modal) that started the worker hears of it, not whichever is on top now.
        origin = event.worker.node
        handler = getattr(origin if origin is not self else self.screen, "worker_failed", None)
        if callable(handler):
            handler(error)


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


def read_terminal_key(path: Path) -> bytes:
    """The terminal's HMAC key, stored base64url at activation (0600)."""
    from pos_app.domain.errors import ConfigError

    try:
        return decode_key(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: this terminal is not activated yet (run `pos engine activation-code` on the engine)."
        ) from None
