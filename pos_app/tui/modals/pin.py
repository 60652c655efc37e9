"""A manager's PIN for a refund or a void. Stays open on a wrong PIN (saying so); returns the
manager's name on the right one, None on Escape. The PIN is checked (scrypt) in a thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static
from textual.worker import Worker

from pos_app.domain.errors import PosError
from pos_app.i18n import N_, _
from pos_app.terminal.error_words import cashier_text
from pos_app.tui.context import TillApp


class ManagerPinModal(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, purpose: str, check: Callable[[str], str]) -> None:
        super().__init__()
        self.purpose = purpose
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Label(_("Manager PIN — {purpose}").format(purpose=self.purpose))
            yield Input(password=True, placeholder=_("PIN"), id="manager-pin", max_length=12)
            yield Static("", id="pin-error", classes="error")
            yield Label(_("Enter to approve · Esc to cancel"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#manager-pin", Input).focus()

    @on(Input.Submitted, "#manager-pin")
    def submitted(self, event: Input.Submitted) -> None:
        pin = event.value.strip()
        event.input.clear()
        event.input.disabled = True  # one check at a time
        self.query_one("#pin-error", Static).update(_("Checking the PIN…"))
        self.check_pin(pin)

    @work(exclusive=True, group="manager-pin", exit_on_error=False)
    async def check_pin(self, pin: str) -> None:
        try:
            manager = await asyncio.to_thread(self.check, pin)
        except PosError as exc:
            self.refused(cashier_text(exc))
            return
        self.dismiss(manager)

    def refused(self, message: str) -> None:
        self.query_one("#pin-error", Static).update(message)
        field = self.query_one("#manager-pin", Input)
        field.disabled = False
        field.focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: the app's one error handler hears it from here.
        cast(TillApp, self.app).worker_state_changed(event)

    def worker_failed(self, error: BaseException) -> None:
        self.refused(_("Could not check the PIN — try again."))

    def action_cancel(self) -> None:
        self.dismiss(None)
