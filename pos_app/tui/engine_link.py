"""The till's link to the engine: the loops that follow it and what the till does with what arrives.

A part of :class:`~pos_app.tui.app.PosApp` (a Textual app mixin, so its ``@work`` workers stay the
app's own): the engine's health, the wallet channels, the event stream (payments journaled and
handed to every screen as :class:`PaymentUpdated`), the outbox upload, and the settling of open
payments and store-QR catch-up when the link returns. The app sets the state up in ``PosApp.__init__``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from pos_app.api.schemas import PaymentView
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.i18n import _
from pos_app.sync.outbox import OutboxDrain
from pos_app.terminal.channels import ChannelBoard
from pos_app.terminal.store_qr import NO_SHIFT, StorePayment
from pos_app.terminal.text import channel_name
from pos_app.terminal.till import Till
from pos_app.tui.messages import PaymentUpdated

log = logging.getLogger(__name__)
#: Quiet time after a journal write before the outbox is uploaded (see OutboxDrain.run).
SYNC_SETTLE_S = 0.5


class EngineLink(App[None]):
    till: Till
    #: The app's event loop (set on mount): journal writes made in worker threads are announced on it.
    loop: asyncio.AbstractEventLoop
    health_interval_s: float
    channels_interval_s: float
    engine_online: bool | None
    #: The engine answered at least once since the till started.
    ever_online: bool
    events_connected: bool
    unsent: int
    drain: OutboxDrain
    drain_stop: asyncio.Event
    #: Events already sent when the link went down; set while a "caught up" notice is owed.
    sent_before_outage: int | None
    #: Owned by the alerts part (pos_app.tui.alerts_view): a journal write may have raised an alert.
    alerts_read: int

    if TYPE_CHECKING:  # the app's other parts, which the link consults or tells

        def engine_starting(self) -> bool: ...

        def status_changed(self) -> None: ...

        def check_alerts(self) -> None: ...

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
