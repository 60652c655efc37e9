"""Cashiers and managers. PINs are stored only as salted scrypt hashes (hashlib.scrypt)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from pos_app.domain.errors import AuthorisationError, InputError
from pos_app.domain.staff import Role
from pos_app.journal.clock import aware, now
from pos_app.journal.events import append_event
from pos_app.journal.models import Staff
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


def check_pin(session: Session, pin: str, *, role: Role | str | None = None) -> Staff | None:
    """The active staff member with this PIN (and role, if given), else None."""
    for staff in list_staff(session):
        if pin_matches(pin, staff.pin_hash):
            if role is not None and staff.role != Role(role).value:
                return None
            return staff
    return None


def require_manager(session: Session, pin: str) -> Staff:
    """The manager whose PIN this is, or AuthorisationError."""
    staff = check_pin(session, pin, role=Role.MANAGER)
    if staff is None:
        raise AuthorisationError()
    return staff


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
    if check_pin(session, pin) is not None:
        raise InputError("That PIN is already in use — choose another.")
    when = aware(at or now())
    staff = Staff(name=name, role=role.value, pin_hash=hash_pin(pin), active=True, created_at=when)
    session.add(staff)
    session.flush()
    append_event(session, terminal_id, "staff.added", {"cashier": added_by, STAFF: staff_snapshot(staff)}, when)
    return staff
