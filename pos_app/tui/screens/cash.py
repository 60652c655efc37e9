"""Cash: the amount tendered and the change due; Enter records the sale (works offline)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Digits, Input, Label, Static

from pos_app.domain.errors import PosError
from pos_app.domain.money import format_fen, parse_amount
from pos_app.i18n import N_, _
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.error_words import cashier_text
from pos_app.tui.screens.base import TillScreen
from pos_app.tui.screens.result import ResultScreen


class CashScreen(TillScreen):
    HEADING = N_("Cash")
    KEYS = N_("type the cash tendered, Enter to record (empty = exact) · Esc back · F1 help")
    BINDINGS = [Binding("escape", "back", N_("Back"))]

    def __init__(self, draft: SaleDraft) -> None:
        super().__init__()
        self.draft = draft

    def body(self) -> ComposeResult:
        with Vertical():
            yield Label(_("To pay"), classes="hint")
            yield Digits(format_fen(self.draft.amount_fen).lstrip("¥"), id="cash-amount")
            yield Label(_("Cash tendered (¥)"), classes="hint")
            yield Input(placeholder=format_fen(self.draft.amount_fen).lstrip("¥"), id="tendered")
            yield Static("", id="change", classes="big-state")
            yield Static("", id="cash-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#tendered", Input).focus()

    def tendered_fen(self, text: str) -> int:
        if not text.strip():
            return self.draft.amount_fen
        tendered = parse_amount(text, max_fen=10 * self.till.settings.terminal.max_sale_fen)
        if tendered < self.draft.amount_fen:
            raise PosError(
                N_("Not enough: {amount} more is needed."), amount=format_fen(self.draft.amount_fen - tendered)
            )
        return tendered

    @on(Input.Changed, "#tendered")
    def changed(self, event: Input.Changed) -> None:
        try:
            tendered = self.tendered_fen(event.value)
        except PosError as exc:
            self.query_one("#change", Static).update("")
            self.query_one("#cash-error", Static).update(cashier_text(exc) if event.value.strip() else "")
            return
        self.query_one("#cash-error", Static).update("")
        self.query_one("#change", Static).update(
            _("Change due {amount}").format(amount=format_fen(tendered - self.draft.amount_fen))
        )

    @on(Input.Submitted, "#tendered")
    def submitted(self, event: Input.Submitted) -> None:
        try:
            tendered = self.tendered_fen(event.value)
        except PosError as exc:
            self.query_one("#cash-error", Static).update(cashier_text(exc))
            return
        self.app.switch_screen(ResultScreen(self.till.cash_sale(self.draft, tendered)))

    def action_back(self) -> None:
        self.app.pop_screen()
