"""Checkout: the amount (keypad) or item lines, the subject, and the payment method keys.

Digits, '.', Backspace edit the amount. Q shows one code that WeChat and Alipay both scan (W / A
stay for the per-channel codes; when the engine cannot serve the one code, Q says so and names them).
A USB scanner firing a payment code into this screen (a fast
burst of digits ending in Enter) is recognised by key timing and starts a scan payment at once. A
wallet channel the engine refuses (its breaker is open, or the engine is away) has its key greyed,
and says why when pressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Digits, Label, Static

from pos_app.domain.errors import AuthCodeError, InputError, PosError
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel, route_auth_code
from pos_app.i18n import N_, _
from pos_app.terminal.cart import Cart, ItemLine, SaleDraft
from pos_app.terminal.channels import ChannelBoard
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.keypad import AmountBuffer
from pos_app.terminal.wedge import WedgeClassifier
from pos_app.tui.modals.item import ItemModal
from pos_app.tui.modals.text import TextModal
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.cash import CashScreen
from pos_app.tui.screens.history import HistoryScreen
from pos_app.tui.screens.pending import PendingScreen
from pos_app.tui.screens.qr import QrScreen
from pos_app.tui.screens.scan import ScanScreen
from pos_app.tui.widgets.channel_keys import keys_line

log = logging.getLogger(__name__)

DEFAULT_SUBJECT = N_("In-store purchase")
#: At most this long the QR screen waits for the order's request to be on the wire (see open_qr).
SEND_WAIT_S = 0.05


class CheckoutScreen(TillScreen):
    HEADING = N_("Checkout")
    KEYS = N_("q QR (any wallet) · w/a WeChat/Alipay · s scan · c cash · i item · t subject · h history · F1 help")
    BINDINGS = [
        Binding("q", "one_qr", N_("QR for any wallet")),
        Binding("w", "qr('wechat')", N_("WeChat QR")),
        Binding("a", "qr('alipay')", N_("Alipay QR")),
        Binding("s", "scan", N_("Scan code")),
        Binding("c", "cash", N_("Cash")),
        Binding("i", "add_item", N_("Add item")),
        Binding("d", "remove_item", N_("Remove last item")),
        Binding("t", "subject", N_("Subject")),
        Binding("h", "history", N_("History")),
        Binding("escape", "clear", N_("Clear")),
        Binding("ctrl+l", "logout", N_("Sign out")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.buffer = AmountBuffer()
        self.cart = Cart()
        self.subject = _(DEFAULT_SUBJECT)
        self.wedge = WedgeClassifier()
        #: True while a QR sale's intent is being written (a second key press must not start another).
        self.opening = False
        #: The channel board the keys line and the note show now (None: not drawn yet).
        self.shown_board: ChannelBoard | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="checkout"):
            with Vertical(id="amount-panel"):
                yield Label(_("Amount (¥) — type digits, '.' and Backspace"), classes="hint")
                yield Digits("0", id="amount")
                yield Static("", id="amount-error", classes="error")
                yield Static("", id="channel-note", classes="error")
                yield Static("", id="subject")
                yield Static("", id="cashier-line", classes="hint")
            with Vertical(id="lines-panel"):
                yield Label(_("Items (i add, d remove last)"), classes="hint")
                yield DataTable(id="lines", cursor_type="none", zebra_stripes=True)
                yield Static("", id="total")

    def on_mount(self) -> None:
        self.wedge.max_gap_s = self.pos.wedge_max_gap_s
        self.query_one("#lines", DataTable).can_focus = False
        self.query_one("#channel-note", Static).display = False
        self.refresh_view()
        self.show_channels()
        self.set_interval(0.5, self.show_channels)

    # -- the amount ---------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        now = time.monotonic()
        char = event.character
        if event.key == "enter":
            event.stop()
            self.enter_pressed(now)
            return
        if event.key == "backspace":
            event.stop()
            self.wedge.backspace()
            self.buffer.press("backspace")
            self.refresh_view()
            return
        if char is not None and (char.isdigit() or char == "."):
            event.stop()
            self.wedge.key(char, now)
            self.buffer.press(char)
            self.refresh_view()

    def enter_pressed(self, now: float) -> None:
        split = self.wedge.split_burst(now)
        self.wedge.reset()
        if split is None:
            return
        typed, scanned = split
        # The scanner's digits landed in the amount: put the amount back as the cashier typed it.
        self.buffer = AmountBuffer()
        for char in typed:
            self.buffer.press(char)
        self.refresh_view()
        try:
            routed = route_auth_code(scanned)
        except AuthCodeError as exc:
            self.show_error(cashier_text(exc))
            return
        refused = self.till.channel_board.breaker_refusal(routed.channel)
        if refused is not None:
            self.show_error(refused)
            return
        draft = self.draft()
        if draft is not None:
            self.app.push_screen(ScanScreen(draft, routed=routed))

    @property
    def busy(self) -> bool:
        """A sale is being entered or opened: its QR may be asked for any moment."""
        return self.opening or bool(self.buffer.text) or bool(self.cart.lines)

    def amount_fen(self) -> int:
        if self.cart.lines:
            return self.cart.total_fen
        return self.buffer.fen(max_fen=self.till.settings.terminal.max_sale_fen)

    def draft(self) -> SaleDraft | None:
        try:
            amount = self.amount_fen()
        except PosError as exc:
            self.show_error(cashier_text(exc))
            return None
        return SaleDraft(amount, self.cart.subject(self.subject), list(self.cart.lines))

    def show_error(self, message: str) -> None:
        self.query_one("#amount-error", Static).update(message)
        self.notify(message, severity="warning")

    def refresh_view(self) -> None:
        shown = format_fen(self.cart.total_fen).lstrip("¥") if self.cart.lines else self.buffer.text or "0"
        self.query_one("#amount", Digits).update(shown)
        self.query_one("#amount-error", Static).update("")
        self.query_one("#subject", Static).update(
            _("Subject: {subject}").format(subject=self.cart.subject(self.subject))
        )
        self.query_one("#cashier-line", Static).update(_("Cashier: {name}").format(name=self.till.cashier or "-"))
        table = self.query_one("#lines", DataTable)
        # Columns too: their widths then fit this sale's lines, not the widest line of an earlier sale.
        table.clear(columns=True)
        table.add_columns(_("Item"), _("Qty"), _("Unit"), _("Total"))
        for line in self.cart.lines:
            table.add_row(line.description, str(line.quantity), format_fen(line.unit_fen), format_fen(line.total_fen))
        total = format_fen(self.cart.total_fen) if self.cart.lines else "—"
        self.query_one("#total", Static).update(_("Total {amount}").format(amount=total))

    def new_sale(self) -> None:
        """Called when a sale is finished: a clean checkout for the next customer."""
        self.buffer.clear()
        self.cart.clear()
        self.subject = _(DEFAULT_SUBJECT)
        self.wedge.reset()
        self.refresh_view()

    def show_channels(self) -> None:
        """Grey the keys of the wallet channels refused now and say why (the till's board changes)."""
        board = self.till.channel_board
        if board == self.shown_board:
            return
        self.shown_board = board
        self.query_one("#keys", Static).update(keys_line(board, _(self.KEYS)))
        note = self.query_one("#channel-note", Static)
        notes = board.notes()
        note.update("\n".join(notes))
        note.display = bool(notes)

    # -- methods --------------------------------------------------------------------------------

    def wallet_allowed(self, channel: Channel | None = None, *, one_qr: bool = False) -> bool:
        """Whether a wallet sale on ``channel`` (None: a scan, channel not known yet; ``one_qr``: the one
        code for every wallet) may start now."""
        if self.pos.engine_online is False:
            self.show_error(_("Engine unreachable — cash only until it is back."))
            return False
        board = self.till.channel_board
        if one_qr:
            refused = board.one_qr_refusal()
        else:
            refused = board.scan_refusal() if channel is None else board.refusal(channel)
        if refused is not None:
            self.show_error(refused)
            return False
        if self.till.pending():
            self.notify(_("An earlier payment is still open — settle it first."), severity="warning")
            self.app.push_screen(PendingScreen())
            return False
        return True

    def action_qr(self, channel: str) -> None:
        if self.opening:
            return  # the key again while the first press's intent is being written: one sale only
        draft = self.draft()
        if draft is None or not self.wallet_allowed(Channel(channel)):
            return
        self.opening = True
        self.open_qr(draft, Channel(channel))

    def action_one_qr(self) -> None:
        if self.opening:
            return
        draft = self.draft()
        if draft is None or not self.wallet_allowed(one_qr=True):
            return
        self.opening = True
        self.open_qr(draft, None)

    @work(exclusive=True, group="open-qr", exit_on_error=False)
    async def open_qr(self, draft: SaleDraft, channel: Channel | None) -> None:
        """Intent first, then the order goes out, then the QR screen is built while the engine works.

        This order is the fast one: the journal write has the CPU to itself, and building the screen
        (the costliest part on the terminal) overlaps the round trip to the engine and the gateway.
        """
        # ``opening`` stays set until the QR screen is up: a second press meanwhile must neither
        # start a second sale nor (this worker being exclusive) cancel this one after its order left.
        try:
            try:
                if channel is None:
                    attempt = await self.till.open_one_qr(draft)
                else:
                    attempt = await self.till.open_native(draft, channel)
            except PosError as exc:
                self.show_error(cashier_text(exc))
                return
            except Exception as exc:  # the journal could not be written (disk full, ...): nothing was sent
                log.exception("could not record the sale")
                self.show_error(
                    _("Could not record the sale, nothing was charged ({error}).").format(error=type(exc).__name__)
                )
                return
            on_the_wire = asyncio.Event()
            sending = asyncio.ensure_future(self.till.send(attempt, journal_answer=False, sent=on_the_wire))
            # The request must reach the engine's socket before the screen work below holds the loop
            # for tens of milliseconds (it is set when the call ends, too; the timeout is a backstop).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(on_the_wire.wait(), SEND_WAIT_S)
            self.app.push_screen(QrScreen.for_sale(self.app, attempt, sending))
        finally:
            self.opening = False

    def action_scan(self) -> None:
        draft = self.draft()
        if draft is None or not self.wallet_allowed():
            return
        self.app.push_screen(ScanScreen(draft))

    def action_cash(self) -> None:
        draft = self.draft()
        if draft is None:
            return
        self.app.push_screen(CashScreen(draft))

    def action_add_item(self) -> None:
        def added(line: ItemLine | None) -> None:
            if line is None:
                return
            try:
                self.cart.add(line, max_fen=self.till.settings.terminal.max_sale_fen)
            except InputError as exc:
                self.show_error(cashier_text(exc))
                return
            self.refresh_view()

        self.app.push_screen(ItemModal(max_fen=self.till.settings.terminal.max_sale_fen), added)

    def action_remove_item(self) -> None:
        self.cart.remove_last()
        self.refresh_view()

    def action_subject(self) -> None:
        def chosen(text: str | None) -> None:
            if text:
                self.subject = text[:127]
                self.refresh_view()

        self.app.push_screen(TextModal(_("Payment subject (shown in the customer's wallet)"), self.subject), chosen)

    def action_clear(self) -> None:
        self.new_sale()

    def action_history(self) -> None:
        self.app.push_screen(HistoryScreen())

    def action_logout(self) -> None:
        self.pos.logout()
