"""Native QR: the order's code drawn on screen for the customer's phone, the amount large, a
countdown to expiry, the live status. The one code for every wallet (one_qr) is shown the same way:
"Scan with WeChat or Alipay", then which wallet opened it; when the engine cannot serve it, the
screen says so and W / A show the per-channel codes instead.

Escape cancels: the intent is journaled at once, then the order is closed at the gateway; with the
engine away the till goes back to checkout at once and the sale waits in Open payments until the
engine confirms. While the engine is away the code is withdrawn and the cashier is told not to hand
over the goods.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Static

from pos_app.api.schemas import PaymentView
from pos_app.domain.errors import EngineUnavailable
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.i18n import N_, _
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.sales import Attempt
from pos_app.terminal.text import STATE_WORDS, countdown, remaining_seconds
from pos_app.tui.screens.payment import PaymentScreen
from pos_app.tui.widgets.qr_view import QrView

#: The name the app's one QR screen is installed under (see QrScreen.for_sale).
SCREEN_NAME = "qr"
#: Ends after which the order's QR is taken off the screen.
CLOSED_STATES = frozenset({PaymentState.CLOSED, PaymentState.FAILED, PaymentState.REVERSED})
CLOSED_MESSAGE = N_("Order closed — no QR")
#: What the QR's area says while the engine is away (the code cannot be confirmed, so it is withdrawn).
AWAY_MESSAGE = N_("Engine away — QR withdrawn")
AWAY_STATE = N_("Engine away — do not hand over goods; the payment will be checked when the engine is back.")
#: The one code's label before a wallet opened it, then after.
ANY_WALLET = N_("Scan with WeChat or Alipay")
OPENED_IN = {Channel.WECHAT: N_("Opened in WeChat"), Channel.ALIPAY: N_("Opened in Alipay")}
FALLBACK_KEYS = N_("w WeChat QR · a Alipay QR · Esc back · F1 help")


class QrScreen(PaymentScreen):
    HEADING = N_("Customer scans this QR")
    KEYS = N_("Esc cancel (closes the order) · Enter done when final · F1 help")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "done", "Done"),
        Binding("w", "fallback('wechat')", N_("WeChat QR"), show=False),
        Binding("a", "fallback('alipay')", N_("Alipay QR"), show=False),
    ]

    def __init__(
        self,
        draft: SaleDraft,
        channel: Channel | None,
        *,
        starting: asyncio.Future[Attempt] | None = None,
        attempt: Attempt | None = None,
    ) -> None:
        """``starting`` resolves to the attempt once the engine answered; ``attempt`` is that attempt
        known earlier (its intent is journaled), so an event about it can draw the QR first."""
        super().__init__()
        self.draft = draft
        self.channel = channel
        self.starting = starting
        self.attempt = attempt
        #: Shown before, now showing another sale (see reset and on_screen_resume).
        self.reused = False
        #: A cancel (the cashier's, or the expiry's) is on its way: the next one waits for it.
        self.cancelling = False
        #: The engine refused the one code: W / A now open the per-channel codes for this sale.
        self.fallback = False

    @classmethod
    def for_sale(cls, app: App[Any], attempt: Attempt, sending: asyncio.Future[Attempt]) -> QrScreen:
        """The app's one QR screen, made ready for this sale: built the first time, then reused.

        Building a screen (compose, styles, mounting a dozen widgets) is the costliest thing the
        terminal does between the cashier's key and the code on screen; a reused screen only has
        its texts replaced. Installed, it stays mounted when popped.
        """
        try:
            screen = app.get_screen(SCREEN_NAME)
        except KeyError:
            screen = cls(attempt.draft, attempt.channel, starting=sending, attempt=attempt)
            app.install_screen(screen, SCREEN_NAME)
            return screen
        assert isinstance(screen, QrScreen)
        screen.reset(attempt, sending)
        return screen

    @staticmethod
    def code_area(app: App[Any]) -> tuple[int, int]:
        """(columns, rows) for the code beside the amount panel."""
        return max(20, app.size.width - 34), max(8, app.size.height - 3)

    def reset(self, attempt: Attempt, starting: asyncio.Future[Attempt]) -> None:
        """Show a new sale on this (already built) screen and follow its order."""
        # The last sale's workers (a poll in flight, a cancel) must not touch this one.
        self.workers.cancel_node(self)
        self.reused = True
        self.draft, self.channel, self.starting = attempt.draft, attempt.channel, starting
        self.attempt, self.done, self.cancelling, self.fallback = attempt, False, False, False
        self.query_one("#qr-code", QrView).reset(_("Creating the order…"), *self.code_area(self.app))
        self.show_sale()
        self.create_order()

    def show_sale(self) -> None:
        """The sale's texts, as they are before the engine has answered."""
        self.query_one("#qr-channel", Static).update(_(self.channel.label) if self.channel else _(ANY_WALLET))
        self.query_one("#qr-amount", Digits).update(format_fen(self.draft.amount_fen).lstrip("¥"))
        self.query_one("#qr-subject", Static).update(self.draft.subject)
        self.query_one("#qr-countdown", Static).update("")
        state = self.query_one("#qr-state", Static)
        state.update(_(STATE_WORDS[PaymentState.CREATED]))
        state.set_classes("big-state")
        order = _("Order {order}").format(order=self.attempt.out_trade_no) if self.attempt else ""
        self.query_one("#qr-order", Static).update(order)
        self.query_one("#keys", Static).update(_(self.KEYS))

    def body(self) -> ComposeResult:
        with Horizontal(id="qr-layout"):
            # The code's area is laid out now, while the order is being created: the code drops in later.
            width, rows = self.code_area(self.app)
            yield Vertical(QrView(_("Creating the order…"), max_width=width, max_rows=rows, id="qr-code"), id="qr-box")
            with Vertical(id="qr-info"):  # filled by show_sale
                yield Static(id="qr-channel", classes="ok")
                yield Digits(id="qr-amount")
                yield Static(id="qr-subject")
                yield Static(id="qr-countdown")
                yield Static(id="qr-state")
                yield Static(id="qr-order", classes="hint")

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Skip Textual's restyling of the whole screen when the reused screen comes back.

        Textual re-applies the stylesheet to every widget of a screen it resumes, in case something
        changed while it was hidden; that pass is on the cashier's path from the key to the QR.
        Nothing does change here: the till has one theme, the screen has nothing to hover or focus,
        and a class this screen changes (the state's colour) restyles that widget when it is set.
        (This handler runs before Textual's own, which reads the flag.)
        """
        if self.reused:
            event.refresh_styles = False

    def on_mount(self) -> None:
        self.show_sale()
        self.create_order()
        self.set_interval(0.5, self.tick)

    @work(exclusive=True, group="payment", exit_on_error=False)
    async def create_order(self) -> None:
        if self.starting is not None:
            attempt = await self.starting
        elif self.channel is None:
            attempt = await self.till.open_one_qr(self.draft)
            await self.till.send(attempt)
        else:
            attempt = await self.till.start_native(self.draft, self.channel)
        if self.attempt is None or self.attempt.out_trade_no != attempt.out_trade_no:
            self.query_one("#qr-order", Static).update(_("Order {order}").format(order=attempt.out_trade_no))
        self.attempt = attempt  # (the order number is on screen already when the intent was known)
        view = attempt.view
        if attempt.unavailable:
            self.show_fallback(attempt.unavailable)
            return
        if view is not None:
            # The engine's event about this order may have drawn it already: then this changes nothing.
            self.accept_view(view)
            # The QR is drawn first; the engine's answer is journaled right after it is on screen.
            self.call_after_refresh(self.till.apply_view, view)
        elif attempt.error:
            # The outcome is unknown (the engine did not answer): say so; following keeps asking.
            state = self.query_one("#qr-state", Static)
            state.update(_("{error} Still trying…").format(error=attempt.error))
            state.set_classes("big-state failed")
        self.follow_worker()

    @work(exclusive=True, group="follow", exit_on_error=False)
    async def follow_worker(self) -> None:
        await self.follow()

    def worker_failed(self, error: BaseException) -> None:
        self.query_one("#qr-state", Static).update(_("Could not create the order — Esc to go back"))
        self.query_one("#qr-state", Static).set_classes("big-state failed")

    def show_fallback(self, words: str) -> None:
        """The engine cannot serve the one code (nothing was created): say so, offer W / A."""
        self.done, self.fallback = True, True
        self.till.recheck_channels()  # the checkout greys the one-code key from now on
        self.query_one("#qr-code", QrView).show_message(_("One code unavailable"))
        state = self.query_one("#qr-state", Static)
        # Not the fixed-size state box: the engine's reason follows the words and must wrap in full.
        state.set_classes("canceled")
        state.update(words)
        self.query_one("#keys", Static).update(_(FALLBACK_KEYS))

    def action_fallback(self, channel: str) -> None:
        """W / A after the one code was refused: back to checkout, which opens that channel's code."""
        if not self.fallback:
            return
        self.dismiss_to_checkout()
        checkout = self.app.screen
        action = getattr(checkout, "action_qr", None)
        if callable(action):
            action(channel)

    def show_wallet(self, view: PaymentView) -> None:
        """A one_qr order's page was opened in a wallet: say which (the receipt names it too)."""
        if self.channel is not None or view.channel is None or self.attempt is None:
            return
        self.attempt.channel = view.channel
        self.query_one("#qr-channel", Static).update(_(OPENED_IN.get(view.channel, ANY_WALLET)))

    def show_view(self, view: PaymentView) -> None:
        self.show_wallet(view)
        qr = self.query_one("#qr-code", QrView)
        away = self.pos.engine_online is False and view.state not in CLOSED_STATES | {PaymentState.PAID}
        if view.code_url and qr.data != view.code_url and view.state not in CLOSED_STATES and not away:
            qr.show_code(view.code_url)
        state = self.query_one("#qr-state", Static)
        words = _(STATE_WORDS[view.state])
        if view.state == PaymentState.FAILED and view.failure_reason:
            words = _("FAILED — {reason}").format(reason=view.failure_reason)
        # The state's box has a fixed size (.big-state): new words need no layout pass, which would
        # re-render the whole screen on the cashier's path just as the code is being drawn.
        state.update(words, layout=False)
        css = {PaymentState.PAID: "paid", PaymentState.FAILED: "failed", PaymentState.CLOSED: "canceled"}
        state.set_classes(f"big-state {css.get(view.state, '')}".strip())
        if view.state in CLOSED_STATES:
            # A closed order's QR must not stay where a customer could still scan it (nor the
            # "creating" message when it never got one).
            if qr.shown or qr.message != _(CLOSED_MESSAGE):
                qr.show_message(_(CLOSED_MESSAGE))
            self.query_one("#keys", Static).update(_("Enter back to checkout · F1 help"))
        elif away:
            self.show_engine_away()

    def show_engine_away(self) -> None:
        """The engine cannot confirm a payment now: the code comes off the screen, and the cashier
        is told what that means (it comes back with the engine, see :meth:`tick`)."""
        qr = self.query_one("#qr-code", QrView)
        if qr.shown or qr.message != _(AWAY_MESSAGE):
            qr.show_message(_(AWAY_MESSAGE))
        state = self.query_one("#qr-state", Static)
        state.update(_(AWAY_STATE), layout=False)
        state.set_classes("big-state failed")

    def tick(self) -> None:
        view = self.attempt.view if self.attempt else None
        if view is not None and not self.done and not self.cancelling:
            qr = self.query_one("#qr-code", QrView)
            if self.pos.engine_online is False:
                self.show_engine_away()
            elif self.pos.engine_online and not qr.shown and qr.message == _(AWAY_MESSAGE):
                self.show_view(view)  # the engine is back: the order's code and state again
        if view is None or view.state not in {PaymentState.AWAITING_SCAN, PaymentState.USER_PAYING}:
            self.query_one("#qr-countdown", Static).update("", layout=False)
            return
        left = remaining_seconds(view.expires_at, self.till.clock())
        if left is None:
            return
        # One line of fixed height (see the stylesheet): no layout pass twice a second.
        self.query_one("#qr-countdown", Static).update(
            _("Expires in {left}").format(left=countdown(left)), layout=False
        )
        if left <= 0 and not self.done and not self.cancelling:
            self.start_cancel("expired")

    def start_cancel(self, reason: str) -> None:
        """Journal the cancel at once, then close the order (or, with the engine away, go back now)."""
        assert self.attempt is not None
        self.cancelling = True
        self.till.request_cancel(self.attempt, reason=reason)
        if self.pos.engine_online is False:
            self.leave_open()
            return
        self.query_one("#qr-state", Static).update(_("Cancelling…"))
        self.cancel_order(reason)

    @work(exclusive=True, group="cancel", exit_on_error=False)
    async def cancel_order(self, reason: str) -> None:
        assert self.attempt is not None
        try:
            view = await self.till.cancel(self.attempt, reason=reason)
        except EngineUnavailable:
            self.leave_open()
            return
        self.accept_view(view)

    def leave_open(self) -> None:
        """Back to checkout with the order still open: it sits in Open payments until the engine
        confirms it, and a payment that went through after all raises a money alert."""
        assert self.attempt is not None
        self.done = True  # the poll stops: the order is settled through the engine from now on
        self.till.unwatch(self.attempt.out_trade_no)
        self.notify(
            _("Cancel recorded — do not hand over the goods. The payment is checked when the engine is back."),
            title=_("Engine away"),
            severity="warning",
            timeout=15,
        )
        self.dismiss_to_checkout()

    def action_cancel(self) -> None:
        if self.starting is not None and not self.starting.done() and not self.done:
            # Closing an order whose creation is still on its way could race it: wait for the answer
            # (bounded: the create gives up after pos_app.terminal.deadline.ANSWER_TIMEOUT_S).
            self.notify(_("The order is still being created — cancel it once its QR is shown."), severity="warning")
            return
        if self.done or self.attempt is None:
            self.dismiss_to_checkout()
            return
        if not self.cancelling:
            self.start_cancel("cashier cancelled")

    def action_done(self) -> None:
        if self.done:
            self.dismiss_to_checkout()

    def dismiss_to_checkout(self) -> None:
        if self.attempt is not None and self.done:
            self.till.unwatch(self.attempt.out_trade_no)
        self.app.pop_screen()
