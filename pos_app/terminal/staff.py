"""Signing in and out, and a manager's approval, by PIN (scrypt: call these off the UI thread)."""

from __future__ import annotations

from pos_app import journal
from pos_app.domain.errors import AuthorisationError
from pos_app.i18n import _
from pos_app.terminal.core import TillCore


class Staff(TillCore):
    def login(self, pin: str) -> str:
        """Sign the cashier with this PIN in; their name, or AuthorisationError."""
        with journal.session_scope(self.journal) as session:
            staff = journal.check_pin(session, pin)
        if staff is None:
            raise AuthorisationError(_("Wrong PIN — try again."))
        self.cashier = staff.name
        return staff.name

    def logout(self) -> None:
        self.cashier = None

    def check_manager(self, pin: str) -> str:
        """The manager's name for this PIN, or AuthorisationError."""
        with journal.session_scope(self.journal) as session:
            name = journal.require_manager(session, pin).name
        self.manager_approval = (name, pin, self.clock())  # the engine checks it again for money going back
        return name
