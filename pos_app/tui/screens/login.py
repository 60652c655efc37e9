"""Sign in by name and PIN (or by PIN alone: a digit typed first starts the PIN). The name found here
is on screen and on every journal entry. Wrong PINs make the next try wait, longer each time, and
lock a named person out until a manager unlocks them (F6)."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from pos_app.domain.errors import PosError
from pos_app.domain.staff import DEMO_STAFF
from pos_app.i18n import N_, _
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.staff import PinRefused
from pos_app.tui.modals.locked_staff import LockedStaffModal
from pos_app.tui.modals.pin import ManagerPinModal
from pos_app.tui.screens.base import TillScreen

CHECKING = N_("Checking the PIN…")
#: How often the wait after wrong PINs is counted down.
WAIT_STEP_S = 0.25


class NameField(Input):
    """The name. Digits typed while it is empty go to the PIN field instead (sign-in by PIN alone),
    and so does Enter after them: straight into that field, in the order typed, however fast."""

    def __init__(self, pin: Input, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pin = pin

    async def _on_key(self, event: events.Key) -> None:
        digit = event.character is not None and event.character.isdigit()
        if not self.value and (digit or (event.key == "enter" and self.pin.value)):
            event.stop()
            event.prevent_default()
            # Synchronously, not by a message: the keys already on their way here keep their order.
            self.screen.set_focus(self.pin)
            if digit:
                self.pin.insert_text_at_cursor(event.character or "")
            else:
                await self.pin.action_submit()
            return
        await super()._on_key(event)


class LoginScreen(TillScreen):
    HEADING = N_("Sign in")
    KEYS = N_("Name ⏎ PIN ⏎ (or just the PIN) · F6 unlock · F1 help · Ctrl+Q quit")
    BINDINGS = [Binding("f6", "unlock", N_("Unlock a person"))]

    def __init__(self) -> None:
        super().__init__()
        #: A PIN is being checked, or the wait after wrong PINs is not over.
        self.busy = False

    def body(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Label(_("Your name (→ completes), or just your PIN"), classes="hint")
            # Not selected on focus: the digit that moved the focus here must not be typed over.
            pin = Input(password=True, placeholder=_("PIN"), id="pin", max_length=12, select_on_focus=False)
            yield NameField(
                pin,
                placeholder=_("Name"),
                id="name",
                max_length=64,
                suggester=SuggestFromList(self.till.staff_names(), case_sensitive=False),
            )
            yield pin
            yield Static("", id="login-error", classes="error")
            if self.pos.sandbox:
                pins = " · ".join(f"{name} {pin}" for name, pin, _ in DEMO_STAFF)
                yield Static(_("Training mode — demo PINs: {pins}").format(pins=pins), id="login-demo", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Submitted, "#name")
    def to_pin(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    def sign_in(self, event: Input.Submitted) -> None:
        pin = event.value.strip()
        event.input.clear()
        if not pin or self.busy:
            return  # one check at a time, none during a wait
        # Not disabled: a disabled field would pass the focus (and the next keys) to the name.
        self.busy = True
        self.query_one("#login-error", Static).update(_(CHECKING))
        self.check_pin(pin, self.query_one("#name", Input).value)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def check_pin(self, pin: str, name: str) -> None:
        # scrypt takes a noticeable moment by design: in a thread, so the screen keeps drawing.
        try:
            await asyncio.to_thread(self.till.login, pin, name)
        except PinRefused as exc:
            if exc.wait_s:
                await self.wait_out(exc.wait_s)
            else:
                self.failed(cashier_text(exc))
            return
        except PosError as exc:
            self.failed(cashier_text(exc))
            return
        self.pos.after_login()

    async def wait_out(self, seconds: int) -> None:
        """The next try is taken after ``seconds`` (by the till's clock): count them down, a PIN
        entered meanwhile is not checked."""
        error = self.query_one("#login-error", Static)
        until = self.till.clock() + timedelta(seconds=seconds)
        while (left := math.ceil((until - self.till.clock()).total_seconds())) > 0:
            error.update(_("Wrong PIN — wait {n} s, then try again.").format(n=left))
            await asyncio.sleep(WAIT_STEP_S)
        self.failed(_("Try your PIN again."))

    def failed(self, message: str) -> None:
        self.query_one("#login-error", Static).update(message)
        self.busy = False
        self.query_one("#pin", Input).focus()

    def worker_failed(self, error: BaseException) -> None:
        self.failed(_("Could not check the PIN — try again."))

    def action_unlock(self) -> None:
        locked = self.till.locked_staff()
        if not locked:
            self.notify(_("No one is locked out."))
            return

        def chosen(name: str | None) -> None:
            if name is None:
                return

            def unlocked(manager: str | None) -> None:
                if manager:
                    self.query_one("#login-error", Static).update(
                        _("{name} was unlocked by {manager} — sign in again.").format(name=name, manager=manager)
                    )

            purpose = _("unlock {name}").format(name=name)
            self.app.push_screen(ManagerPinModal(purpose, lambda pin: self.till.unlock(name, pin)), unlocked)

        self.app.push_screen(LockedStaffModal(locked), chosen)
