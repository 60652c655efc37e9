"""Choose a person locked out after too many wrong PINs, to unlock. Returns the name, or None on Escape."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from pos_app.i18n import N_, _


class LockedStaffModal(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Label(_("Locked out — choose who to unlock"))
            yield OptionList(*(Option(name, id=name) for name in self.names), id="locked-staff")
            yield Label(_("↑↓ choose · Enter unlocks with a manager's PIN · Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#locked-staff", OptionList).focus()

    @on(OptionList.OptionSelected, "#locked-staff")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
