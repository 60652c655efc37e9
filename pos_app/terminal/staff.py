"""Signing in and out, a manager's approval and a manager unlocking a person, by PIN (scrypt: call
these off the UI thread). Wrong PINs are counted by the journal (per person when a name is given, else
per till); what a refusal means — wait, or locked out — is said here in the till's language."""

from __future__ import annotations

from sqlmodel import Session

from pos_app import journal
from pos_app.domain.errors import AuthorisationError, InputError
from pos_app.domain.pin_guard import seconds_to_wait
from pos_app.domain.staff import Role
from pos_app.i18n import N_
from pos_app.journal.clock import aware
from pos_app.journal.models import PinGuard
from pos_app.journal.staff import ANYONE
from pos_app.terminal.core import TillCore


class PinRefused(AuthorisationError):
    """A sign-in refused: a wrong PIN, a wait before the next try (``wait_s``), or a lockout."""

    def __init__(self, message: str, *, wait_s: int = 0, locked: bool = False, **params: object) -> None:
        super().__init__(message, **params)
        self.wait_s = wait_s
        self.locked = locked


class Staff(TillCore):
    def staff_names(self) -> list[str]:
        """Who may sign in here, by name (the sign-in screen completes a name from these)."""
        with journal.session_scope(self.journal) as session:
            return [staff.name for staff in journal.list_staff(session)]

    def login(self, pin: str, name: str = "") -> str:
        """Sign in with this PIN, as ``name`` if given (then wrong PINs count against that person, who
        is locked out after too many); their name, or PinRefused saying what to do."""
        who = self._resolve(name) if name.strip() else None
        with journal.session_scope(self.journal) as session:
            held = False
            try:
                staff = journal.check_pin(session, pin, name=who, at=self.clock())
            except AuthorisationError:
                staff, held = None, True  # refused before or after the check: said from the guards
            signed_in = None if staff is None else staff.name
            refusal = None if staff is not None else self._refusal(session, who, held=held)
        if refusal is not None:
            raise refusal
        assert signed_in is not None
        self.cashier = signed_in
        return signed_in

    def _resolve(self, name: str) -> str:
        """The staff member a typed name means: exact or the one name it starts, in any case."""
        typed = name.strip().casefold()
        names = self.staff_names()
        exact = [n for n in names if n.casefold() == typed]
        matches = exact or [n for n in names if n.casefold().startswith(typed)]
        if len(matches) != 1:
            raise PinRefused(N_("No one here is called {name} — check the name."), name=name.strip())
        return matches[0]

    def _refusal(self, session: Session, who: str | None, *, held: bool) -> PinRefused:
        """What a refused sign-in means. ``held``: the journal refused it outright (a wait not over,
        or a locked-out person, who may be the owner of a right PIN typed without a name)."""
        status = journal.pin_status(session, who or ANYONE)
        if status.locked:
            return PinRefused(N_("{name} is locked — a manager must unlock (F6)."), locked=True, name=status.who)
        guard = session.get(PinGuard, status.who)
        last = None if guard is None or guard.last_failure_at is None else aware(guard.last_failure_at)
        wait = seconds_to_wait(status.failures, last, self.clock())
        if wait:
            return PinRefused(N_("Wrong PIN — wait {n} s, then try again."), wait_s=wait, n=wait)
        if held:
            return PinRefused(N_("This person is locked — a manager must unlock (F6)."), locked=True)
        return PinRefused(N_("Wrong PIN — try again."))

    def logout(self) -> None:
        self.cashier = None

    def check_manager(self, pin: str) -> str:
        """The manager's name for this PIN, or AuthorisationError."""
        name = self._manager(pin)
        self.manager_approval = (name, pin, self.clock())  # the engine checks it again for money going back
        return name

    def _manager(self, pin: str) -> str:
        with journal.session_scope(self.journal) as session:
            # A wrong PIN is returned, not raised, so that the session commits the count of wrong PINs.
            try:
                staff = journal.check_pin(session, pin, role=Role.MANAGER, at=self.clock())
            except AuthorisationError:
                refusal = self._refusal(session, None, held=True)
                # A wait is said as such; a locked-out person's PIN approves nothing, like a wrong one.
                raise refusal if refusal.wait_s else AuthorisationError() from None
            name = None if staff is None else staff.name
        if name is None:
            raise AuthorisationError()
        return name

    def locked_staff(self) -> list[str]:
        """Everyone locked out after too many wrong PINs, for a manager to unlock."""
        with journal.session_scope(self.journal) as session:
            return [status.who for status in journal.locked_out(session) if status.who]

    def unlock(self, name: str, manager_pin: str) -> str:
        """A manager (by PIN) clears ``name``'s lockout; journaled. The manager's name, or AuthorisationError."""
        manager = self._manager(manager_pin)
        with journal.session_scope(self.journal) as session:
            staff = next((s for s in journal.list_staff(session) if s.name == manager), None)
            if staff is None:
                raise AuthorisationError()
            try:
                journal.unlock_staff(session, name, manager=staff, terminal_id=self.terminal_id, at=self.clock())
            except InputError:
                raise InputError(N_("{name} is not locked out."), name=name) from None
        self._written()
        return manager
