"""Cashier login with a PIN. The name found here is on screen and on every journal entry."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from pos_app.domain.errors import PosError
from pos_app.domain.staff import DEMO_STAFF
from pos_app.tui.screens.base import TillScreen

CHECKING = "Checking the PIN…"


class LoginScreen(TillScreen):
    HEADING = "Sign in"
    KEYS = "Type your PIN, Enter to sign in · F1 help · Ctrl+Q quit"

    def body(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Label("Cashier PIN", classes="hint")
            yield Input(password=True, placeholder="PIN", id="pin", max_length=12)
            yield Static("", id="login-error", classes="error")
            if self.pos.sandbox:
                pins = " · ".join(f"{name} {pin}" for name, pin, _ in DEMO_STAFF)
                yield Static(f"Training mode — demo PINs: {pins}", id="login-demo", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    def sign_in(self, event: Input.Submitted) -> None:
        pin = event.value.strip()
        event.input.clear()
        event.input.disabled = True  # one check at a time
        self.query_one("#login-error", Static).update(CHECKING)
        self.check_pin(pin)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def check_pin(self, pin: str) -> None:
        # scrypt takes a noticeable moment by design: in a thread, so the screen keeps drawing.
        try:
            await asyncio.to_thread(self.till.login, pin)
        except PosError as exc:
            self.failed(exc.message)
            return
        self.pos.after_login()

    def failed(self, message: str) -> None:
        self.query_one("#login-error", Static).update(message)
        field = self.query_one("#pin", Input)
        field.disabled = False
        field.focus()

    def worker_failed(self, error: BaseException) -> None:
        self.failed("Could not check the PIN — try again.")
