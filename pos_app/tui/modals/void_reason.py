"""Why a sale is voided: one key for a common reason, or a reason typed. Returns it, or None on Escape."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from pos_app.i18n import N_, _

#: The reasons a cashier gives most often, in the order of their keys 1, 2, 3, 4.
COMMON_REASONS = (
    N_("Wrong amount"),
    N_("Customer changed their mind"),
    N_("Charged twice"),
    N_("Wrong payment method"),
)
OTHER = "other"


class VoidReasonModal(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel")),
        *(Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, len(COMMON_REASONS) + 1)),
        Binding(str(len(COMMON_REASONS) + 1), "other", show=False),
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        options = [Option(f"{n}  {_(text)}", id=str(n - 1)) for n, text in enumerate(COMMON_REASONS, start=1)]
        options.append(Option(f"{len(COMMON_REASONS) + 1}  " + _("Other — type the reason"), id=OTHER))
        with Vertical(classes="modal"):
            yield Label(_("Void {what} — why?").format(what=self.what))
            yield OptionList(*options, id="void-reasons")
            yield Input(placeholder=_("Reason"), id="void-reason", max_length=80)
            yield Static("", id="void-error", classes="error")
            yield Label(_("1–4 or Enter picks · 5 types a reason · Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#void-reasons", OptionList).focus()

    def action_pick(self, index: int) -> None:
        self.dismiss(_(COMMON_REASONS[index]))

    def action_other(self) -> None:
        self.query_one("#void-reason", Input).focus()

    @on(OptionList.OptionSelected, "#void-reasons")
    def picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == OTHER:
            self.action_other()
        elif event.option.id is not None:
            self.action_pick(int(event.option.id))

    @on(Input.Submitted, "#void-reason")
    def typed(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            self.query_one("#void-error", Static).update(_("Give a reason for the void."))
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
