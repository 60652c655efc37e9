"""Add one item line: description, quantity, unit price. Returns the ItemLine, or None on Escape."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from pos_app.domain.errors import PosError
from pos_app.domain.money import DEFAULT_MAX_SALE_FEN
from pos_app.i18n import N_, _
from pos_app.terminal.cart import ItemLine, make_line
from pos_app.terminal.error_words import cashier_text


class ItemModal(ModalScreen[ItemLine | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, *, max_fen: int = DEFAULT_MAX_SALE_FEN) -> None:
        super().__init__()
        self.max_fen = max_fen

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Label(_("Add an item"))
            yield Input(placeholder=_("Description"), id="description")
            yield Input("1", placeholder=_("Quantity"), id="quantity")
            yield Input(placeholder=_("Unit price, e.g. 12.50"), id="price")
            yield Static("", id="item-error", classes="error")
            yield Label(_("Enter moves on / adds · Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#description", Input).focus()

    @on(Input.Submitted, "#description")
    def to_quantity(self) -> None:
        self.query_one("#quantity", Input).focus()

    @on(Input.Submitted, "#quantity")
    def to_price(self) -> None:
        self.query_one("#price", Input).focus()

    @on(Input.Submitted, "#price")
    def add(self) -> None:
        try:
            line = make_line(
                self.query_one("#description", Input).value,
                self.query_one("#quantity", Input).value,
                self.query_one("#price", Input).value,
                max_fen=self.max_fen,
            )
        except PosError as exc:
            self.query_one("#item-error", Static).update(cashier_text(exc))
            return
        self.dismiss(line)

    def action_cancel(self) -> None:
        self.dismiss(None)
