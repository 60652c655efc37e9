"""Cashiers and managers: adding them and checking their PINs. PINs are stored only as salted scrypt
hashes (hashlib.scrypt); wrong PINs are counted and answered by :mod:`pos_app.domain.pin_guard`
(a growing wait, then a lockout of a named person that a manager clears).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from pos_app.domain.errors import AuthorisationError, InputError
from pos_app.domain.pin_guard import is_locked_out, seconds_to_wait
from pos_app.domain.staff import Action, Role, may
from pos_app.journal.clock import aware, now
from pos_app.journal.events import append_event
from pos_app.journal.models import PinGuard, Staff
from pos_app.journal.snapshots import STAFF, staff_snapshot

# ~16 MiB and a few tens of milliseconds per check: slow for guessing, quick for a cashier.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**14, 8, 1, 32
PIN_MIN, PIN_MAX = 4, 8


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt_hex$hash_hex`` for a PIN, with a fresh 16-byte salt unless one is given."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    """Constant-time check of a PIN against a stored ``scrypt$...`` record."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(
            pin.encode("utf-8"), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def check_pin_format(pin: str) -> str:
    if not (pin.isascii() and pin.isdigit() and PIN_MIN <= len(pin) <= PIN_MAX):
        raise InputError(f"A PIN is {PIN_MIN}–{PIN_MAX} digits.")
    return pin


def list_staff(session: Session, *, active_only: bool = True) -> list[Staff]:
    statement = select(Staff).order_by(col(Staff.name))
    if active_only:
        statement = statement.where(col(Staff.active).is_(True))
    return list(session.exec(statement).all())


#: The PinGuard key of PIN-only sign-ins (no name given): wrong ones make this till wait, never lock
#: it, since nobody could then sign in to clear it.
ANYONE = ""


def _staff_with_pin(session: Session, pin: str) -> Staff | None:
    for staff in list_staff(session):
        if pin_matches(pin, staff.pin_hash):
            return staff
    return None


def _guard(session: Session, who: str) -> PinGuard:
    return session.get(PinGuard, who) or PinGuard(who=who)


def _refuse_if_held(guard: PinGuard, when: datetime) -> None:
    if guard.locked_at is not None:
        raise AuthorisationError(
            f"{guard.who} is locked out after {guard.failures} wrong PINs — a manager must unlock them."
        )
    last = None if guard.last_failure_at is None else aware(guard.last_failure_at)
    wait = seconds_to_wait(guard.failures, last, when)
    if wait:
        raise AuthorisationError(f"Too many wrong PINs — wait {wait} s, then try again.")


def _count_failure(session: Session, guard: PinGuard, when: datetime) -> None:
    guard.failures += 1
    guard.last_failure_at = when
    if guard.who != ANYONE and is_locked_out(guard.failures):
        guard.locked_at = when
    session.add(guard)
    session.flush()


def check_pin(
    session: Session,
    pin: str,
    *,
    role: Role | str | None = None,
    name: str | None = None,
    at: datetime | None = None,
) -> Staff | None:
    """The active staff member with this PIN (and role, if given), else None. Never commits.

    Wrong PINs are counted against ``name`` (who says they are signing in) or, without a name,
    against PIN-only sign-ins at this till; a right one clears the count. Past the free tries, a
    try that comes too soon, and any try of a locked-out person, raises AuthorisationError saying
    how long to wait or that a manager must unlock (see :mod:`pos_app.domain.pin_guard`).
    """
    when = aware(at or now())
    guard = _guard(session, name or ANYONE)
    _refuse_if_held(guard, when)
    staff = _staff_with_pin(session, pin)
    if staff is not None and name and staff.name != name:
        staff = None  # someone else's PIN: wrong for this person
    if staff is None:
        # Returned, not raised: the caller's transaction must commit the count (a raise rolls it back).
        _count_failure(session, guard, when)
        return None
    personal = session.get(PinGuard, staff.name)
    if personal is not None and personal.locked_at is not None:
        raise AuthorisationError(
            f"{staff.name} is locked out after {personal.failures} wrong PINs — a manager must unlock them."
        )
    for cleared in (guard, personal):
        if cleared is not None and cleared.failures:
            cleared.failures, cleared.last_failure_at = 0, None
            session.add(cleared)
    if role is not None and staff.role != Role(role).value:
        return None
    return staff


def require_manager(session: Session, pin: str) -> Staff:
    """The manager whose PIN this is, or AuthorisationError."""
    staff = check_pin(session, pin, role=Role.MANAGER)
    if staff is None:
        raise AuthorisationError()
    return staff


@dataclass(frozen=True, slots=True)
class PinStatus:
    """Wrong PINs in a row for one person (or ``ANYONE``), and whether they are locked out."""

    who: str
    failures: int
    locked_at: datetime | None

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


def pin_status(session: Session, who: str) -> PinStatus:
    """Wrong PINs in a row and the lockout of one person (``ANYONE``: PIN-only sign-ins at this till)."""
    guard = _guard(session, who)
    return PinStatus(who, guard.failures, None if guard.locked_at is None else aware(guard.locked_at))


def locked_out(session: Session) -> list[PinStatus]:
    """Everyone locked out now, for a manager's list."""
    statement = select(PinGuard).where(col(PinGuard.locked_at).is_not(None)).order_by(col(PinGuard.who))
    return [pin_status(session, guard.who) for guard in session.exec(statement).all()]


def unlock_staff(session: Session, name: str, *, manager: Staff, terminal_id: str, at: datetime | None = None) -> None:
    """A manager clears a person's wrong-PIN count and lockout; journaled as ``staff.unlocked``
    naming the manager (``cashier``), the person and the count that locked them out."""
    if not manager.active or not may(Role(manager.role), Action.UNLOCK_STAFF):
        raise AuthorisationError(f"{manager.name} may not unlock staff — ask a manager.")
    guard = session.get(PinGuard, name)
    if guard is None or (guard.locked_at is None and not guard.failures):
        raise InputError(f"{name} is not locked out.")
    when = aware(at or now())
    payload = {
        "cashier": manager.name,
        "staff_name": name,
        "failures": guard.failures,
        "was_locked": guard.locked_at is not None,
    }
    guard.failures, guard.last_failure_at, guard.locked_at = 0, None, None
    session.add(guard)
    session.flush()
    append_event(session, terminal_id, "staff.unlocked", payload, when)


def add_staff(
    session: Session,
    name: str,
    pin: str,
    role: Role | str,
    *,
    terminal_id: str,
    added_by: str = "system",
    at: datetime | None = None,
) -> Staff:
    """Add a cashier or manager (journaled). PINs must be unique among active staff."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InputError("A staff name is 1–64 characters.")
    role = Role(role)
    check_pin_format(pin)
    if session.exec(select(Staff).where(Staff.name == name)).first() is not None:
        raise InputError(f"There is already a staff member called {name!r}.")
    if _staff_with_pin(session, pin) is not None:
        raise InputError("That PIN is already in use — choose another.")
    when = aware(at or now())
    staff = Staff(name=name, role=role.value, pin_hash=hash_pin(pin), active=True, created_at=when)
    session.add(staff)
    session.flush()
    append_event(session, terminal_id, "staff.added", {"cashier": added_by, STAFF: staff_snapshot(staff)}, when)
    return staff
