"""Cashier login with a PIN. The name found here is on screen and on every journal entry."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from pos_app.domain.errors import PosError
from pos_app.domain.staff import DEMO_STAFF
from pos_app.tui.screens.base import TillScreen


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
        try:
            self.till.login(pin)
        except PosError as exc:
            self.query_one("#login-error", Static).update(exc.message)
            return
        self.pos.after_login()
