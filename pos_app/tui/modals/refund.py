"""How much to refund and why. Returns a RefundRequest, or None on Escape."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from pos_app.domain.errors import PosError
from pos_app.domain.money import format_fen, parse_amount
from pos_app.i18n import N_, _
from pos_app.terminal.error_words import cashier_text


@dataclass(frozen=True, slots=True)
class RefundRequest:
    amount_fen: int
    reason: str


class RefundModal(ModalScreen[RefundRequest | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, out_trade_no: str, refundable_fen: int) -> None:
        super().__init__()
        self.out_trade_no = out_trade_no
        self.refundable_fen = refundable_fen

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Label(_("Refund {number}").format(number=self.out_trade_no))
            yield Label(
                _("Up to {amount} (empty = all of it)").format(amount=format_fen(self.refundable_fen)), classes="hint"
            )
            yield Input(placeholder=format_fen(self.refundable_fen).lstrip("¥"), id="refund-amount")
            yield Input(placeholder=_("Reason (required)"), id="refund-reason", max_length=80)
            yield Static("", id="refund-error", classes="error")
            yield Label(_("Enter moves on / continues · Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#refund-amount", Input).focus()

    @on(Input.Submitted, "#refund-amount")
    def to_reason(self) -> None:
        self.query_one("#refund-reason", Input).focus()

    @on(Input.Submitted, "#refund-reason")
    def submitted(self) -> None:
        text = self.query_one("#refund-amount", Input).value
        reason = self.query_one("#refund-reason", Input).value.strip()
        error = self.query_one("#refund-error", Static)
        try:
            amount = self.refundable_fen if not text.strip() else parse_amount(text, max_fen=self.refundable_fen)
        except PosError as exc:
            error.update(cashier_text(exc))
            self.query_one("#refund-amount", Input).focus()
            return
        if not reason:
            error.update(_("Give a reason for the refund."))
            return
        self.dismiss(RefundRequest(amount, reason))

    def action_cancel(self) -> None:
        self.dismiss(None)
