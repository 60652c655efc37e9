"""The detail of a background process that crashed: what happened, its log file, what to do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from pos_app.i18n import _
from pos_app.terminal.background import BackgroundProblem


class BackgroundModal(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close"),
        Binding("f5", "close", "Close"),
    ]

    def __init__(self, problem: BackgroundProblem | None) -> None:
        super().__init__()
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal", id="background"):
            if self.problem is None:
                yield Label(_("Background processes"), classes="ok")
                yield Static(_("No background process needs attention."), id="background-detail")
            else:
                yield Label(_("Background process: {name}").format(name=self.problem.name()), classes="error")
                yield Static(self.problem.detail(), id="background-detail")
            yield Label(_("Esc or Enter closes"), classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
