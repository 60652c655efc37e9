"""The managers the engine knows per store, who approve refunds and voids: PIN as salted scrypt, lockout.

A till's key alone must not be enough to move money back: a refund or void also names a manager of
the payment's store and their PIN, which the engine checks against this table. The PIN is stored
only as ``scrypt$N$r$p$salt$hash``; repeated wrong PINs lock that manager's approvals for a growing
time (:func:`lockout_for`), so a stolen till key cannot guess a PIN in any useful time.

The caller owns the transaction: every function takes ``session`` and never commits.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import UniqueConstraint, update
from sqlmodel import Field, Session, col, select

from pos_app.domain.errors import InputError
from pos_app.engine.store.base import LedgerTable
from pos_app.engine.store.types import UtcDateTime

# About 16 MiB and a few tens of milliseconds per check: slow to guess, quick for one approval.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**14, 8, 1, 32
PIN_MIN, PIN_MAX = 4, 8
#: Wrong PINs in a row before a manager's approvals are locked; each further one doubles the lock.
FREE_FAILURES = 5
FIRST_LOCKOUT = timedelta(seconds=30)
MAX_LOCKOUT = timedelta(minutes=15)


def _at(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable)


class Manager(LedgerTable, table=True):
    """A manager of one store whose PIN approves refunds and voids at that store's tills."""

    __tablename__ = "managers"
    __table_args__ = (UniqueConstraint("store_id", "name", name="uq_managers_store_name"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(max_length=6)
    name: str = Field(max_length=64)
    pin_hash: str = Field(max_length=200)
    disabled: bool = False
    failed_attempts: int = 0  # wrong PINs since the last right one
    locked_until: datetime | None = _at(nullable=True)
    created_at: datetime = _at()
    updated_at: datetime = _at()


def check_pin_format(pin: str) -> str:
    if not (pin.isascii() and pin.isdigit() and PIN_MIN <= len(pin) <= PIN_MAX):
        raise InputError(f"A manager PIN is {PIN_MIN}–{PIN_MAX} digits.")
    return pin


def hash_pin(pin: str) -> str:
    """``scrypt$N$r$p$salt_hex$hash_hex`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


@functools.cache
def _nobody() -> str:
    """Checked against when the named manager does not exist, so that the answer takes as long either way."""
    return hash_pin(secrets.token_hex(8))


def pin_matches(pin: str, stored: str | None) -> bool:
    """Constant-time check of a PIN against a stored hash; ``None`` (no such manager) costs the same."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = (stored or _nobody()).split("$")
        expected = bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(
            pin.encode("utf-8"), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return scheme == "scrypt" and stored is not None and hmac.compare_digest(digest, expected)


def lockout_for(failed_attempts: int) -> timedelta | None:
    """How long approvals stay locked after this many wrong PINs in a row (None: not locked)."""
    if failed_attempts < FREE_FAILURES:
        return None
    return min(FIRST_LOCKOUT * (1 << min(failed_attempts - FREE_FAILURES, 16)), MAX_LOCKOUT)


# --- queries (the caller owns the session and the transaction) ---------------------------------


def find_manager(session: Session, store_id: str, name: str) -> Manager | None:
    return session.exec(select(Manager).where(Manager.store_id == store_id, Manager.name == name)).first()


def store_managers(session: Session, store_id: str) -> Sequence[Manager]:
    return session.exec(select(Manager).where(Manager.store_id == store_id).order_by(col(Manager.name))).all()


def put_manager(session: Session, *, store_id: str, name: str, pin_hash: str, now: datetime) -> Manager:
    """Add the manager, or give an existing one this PIN, enabled, with any lockout cleared."""
    row = find_manager(session, store_id, name)
    if row is None:
        row = Manager(store_id=store_id, name=name, pin_hash=pin_hash, created_at=now, updated_at=now)
    else:
        row.pin_hash, row.disabled, row.failed_attempts, row.locked_until = pin_hash, False, 0, None
        row.updated_at = now
    session.add(row)
    return row


def disable_manager(session: Session, *, store_id: str, name: str, now: datetime) -> bool:
    """False if the store has no such manager."""
    row = find_manager(session, store_id, name)
    if row is None:
        return False
    row.disabled, row.updated_at = True, now
    session.add(row)
    return True


def record_pin_check(session: Session, manager_id: int, *, ok: bool, now: datetime) -> datetime | None:
    """Count a wrong PIN (locking when due) or clear the count after a right one. Returns the lock's end."""
    if ok:
        session.exec(
            update(Manager)
            .where(col(Manager.id) == manager_id)
            .values(failed_attempts=0, locked_until=None, updated_at=now)
        )
        return None
    # One UPDATE adds the failure, so that concurrent wrong PINs are all counted.
    session.exec(
        update(Manager)
        .where(col(Manager.id) == manager_id)
        .values(failed_attempts=Manager.failed_attempts + 1, updated_at=now)
    )
    row = session.get(Manager, manager_id, populate_existing=True)
    assert row is not None
    lock = lockout_for(row.failed_attempts)
    if lock is None:
        return None
    row.locked_until = now + lock
    session.add(row)
    return row.locked_until


def seed_managers(session: Session, *, store_id: str, managers: Sequence[tuple[str, str]], now: datetime) -> int:
    """Add these (name, PIN) managers to a store that has none yet; returns how many were added."""
    if store_managers(session, store_id):
        return 0
    for name, pin in managers:
        put_manager(session, store_id=store_id, name=name, pin_hash=hash_pin(pin), now=now)
    return len(managers)
