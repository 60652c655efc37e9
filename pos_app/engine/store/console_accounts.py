"""The managers' web console's own ledger tables: its accounts, their sign-in sessions, the audit trail.

The console (``pos_app.console``) reads payments from the ledger and writes only these tables. An
account is an *owner* (every store) or a *manager* of one store. Passwords are stored only as a
memory-hard hash (``pos_app.console.passwords``); a session is stored only as the SHA-256 of its
cookie token, so a copy of the database cannot sign anyone in. Rows of the audit table are never
changed or deleted: who did what, when, from where.

The caller owns the transaction: every function takes ``session`` and never commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, delete, update
from sqlmodel import Field, Session, col, select

from pos_app.engine.store.base import LedgerTable
from pos_app.engine.store.types import UtcDateTime


class Role(StrEnum):
    OWNER = "owner"  # every store
    MANAGER = "manager"  # one store


def _at(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable)


class ConsoleUser(LedgerTable, table=True):
    __tablename__ = "console_users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    store_id: str | None = Field(default=None, max_length=6)  # a manager's store; None for an owner
    password_hash: str = Field(max_length=255)
    disabled: bool = False
    failed_logins: int = 0  # wrong passwords since the last right one
    locked_until: datetime | None = _at(nullable=True)
    created_at: datetime = _at()
    updated_at: datetime = _at()


class ConsoleSession(LedgerTable, table=True):
    """A signed-in browser: the SHA-256 of its cookie token, and the CSRF token its forms carry."""

    __tablename__ = "console_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _at()
    expires_at: datetime = _at()


class ConsoleAudit(LedgerTable, table=True):
    """One action in the console (or on its accounts from the command line): who, what, when, from where."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _at()
    user_name: str = Field(max_length=64)  # as typed at a failed sign-in: the audit keeps what was tried
    action: str = Field(max_length=32)
    detail: str = Field(default="", max_length=255)
    client: str = Field(default="", max_length=64)  # the browser's address, or "cli"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


# --- accounts ----------------------------------------------------------------------------------


def find_user(session: Session, name: str) -> ConsoleUser | None:
    return session.exec(select(ConsoleUser).where(ConsoleUser.name == name)).first()


def all_users(session: Session) -> Sequence[ConsoleUser]:
    return session.exec(select(ConsoleUser).order_by(col(ConsoleUser.name))).all()


def add_user(
    session: Session, *, name: str, role: Role, store_id: str | None, password_hash: str, now: datetime
) -> ConsoleUser:
    row = ConsoleUser(
        name=name, role=role.value, store_id=store_id, password_hash=password_hash, created_at=now, updated_at=now
    )
    session.add(row)
    return row


def set_password(session: Session, user: ConsoleUser, *, password_hash: str, now: datetime) -> None:
    """A new password enables the account, clears its lockout and signs out every browser it had."""
    user.password_hash, user.disabled, user.failed_logins, user.locked_until = password_hash, False, 0, None
    user.updated_at = now
    session.add(user)
    end_user_sessions(session, user)


def disable_user(session: Session, user: ConsoleUser, *, now: datetime) -> None:
    user.disabled, user.updated_at = True, now
    session.add(user)
    end_user_sessions(session, user)


def record_login(
    session: Session, user: ConsoleUser, *, ok: bool, locked_until: datetime | None, now: datetime
) -> None:
    """Clear the count after a right password; count a wrong one (one UPDATE, so concurrent tries all count)."""
    if ok:
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
    else:
        values = {"failed_logins": ConsoleUser.failed_logins + 1, "locked_until": locked_until}
    session.exec(update(ConsoleUser).where(col(ConsoleUser.id) == user.id).values(updated_at=now, **values))


# --- sessions ----------------------------------------------------------------------------------


def add_session(
    session: Session, *, token: str, user_id: int, csrf_token: str, now: datetime, expires_at: datetime
) -> None:
    session.add(
        ConsoleSession(
            token_hash=token_hash(token), user_id=user_id, csrf_token=csrf_token, created_at=now, expires_at=expires_at
        )
    )


def live_session(session: Session, token: str, *, now: datetime) -> tuple[ConsoleSession, ConsoleUser] | None:
    """The session of this cookie token and its account, if it has not expired and the account is enabled."""
    row = session.exec(
        select(ConsoleSession, ConsoleUser)
        .join(ConsoleUser, col(ConsoleUser.id) == col(ConsoleSession.user_id))
        .where(ConsoleSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    found, user = row
    if found.expires_at <= now or user.disabled:
        return None
    return found, user


def end_session(session: Session, token: str) -> None:
    session.exec(delete(ConsoleSession).where(col(ConsoleSession.token_hash) == token_hash(token)))


def end_user_sessions(session: Session, user: ConsoleUser) -> None:
    session.exec(delete(ConsoleSession).where(col(ConsoleSession.user_id) == user.id))


def purge_expired_sessions(session: Session, *, now: datetime) -> None:
    session.exec(delete(ConsoleSession).where(col(ConsoleSession.expires_at) <= now))


# --- audit -------------------------------------------------------------------------------------


def audit(session: Session, *, user_name: str, action: str, detail: str = "", client: str = "", now: datetime) -> None:
    session.add(ConsoleAudit(at=now, user_name=user_name[:64], action=action, detail=detail[:255], client=client[:64]))


def recent_audit(session: Session, *, limit: int = 100) -> Sequence[ConsoleAudit]:
    return session.exec(select(ConsoleAudit).order_by(col(ConsoleAudit.id).desc()).limit(limit)).all()
