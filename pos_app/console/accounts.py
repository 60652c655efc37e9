"""Console account use cases, one transaction each: add, new password, disable, sign in and out.

Every one of them writes an audit row in the same transaction as its change, so an action and its
record are committed together or not at all.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from pos_app.console.passwords import check_password_rules, hash_password, password_matches
from pos_app.console.viewer import Viewer
from pos_app.domain.errors import InputError
from pos_app.domain.staff import DEMO_CONSOLE_PASSWORD, DEMO_CONSOLE_USER
from pos_app.engine.store import console_accounts as store
from pos_app.engine.store.console_accounts import ConsoleUser, Role

#: Wrong passwords in a row an account allows before it is locked; each further one doubles the lock.
FREE_FAILURES = 5
FIRST_LOCKOUT = timedelta(seconds=30)
MAX_LOCKOUT = timedelta(minutes=15)
_NAME = re.compile(r"[^\s]{1,64}")
_STORE = re.compile(r"[0-9A-Za-z]{1,6}")


def lockout_for(failed_logins: int) -> timedelta | None:
    """How long an account is locked after this many wrong passwords in a row (None: not locked)."""
    if failed_logins < FREE_FAILURES:
        return None
    return min(FIRST_LOCKOUT * (1 << min(failed_logins - FREE_FAILURES, 16)), MAX_LOCKOUT)


def _now() -> datetime:
    return datetime.now(UTC)


def add_user(ledger: Engine, *, name: str, role: Role, store_id: str | None, password: str, by: str) -> None:
    if not _NAME.fullmatch(name):
        raise InputError("An account name is 1–64 characters without spaces.")
    if role is Role.MANAGER and not (store_id and _STORE.fullmatch(store_id)):
        raise InputError("A store manager needs --store (the store code, 1–6 letters or digits).")
    if role is Role.OWNER and store_id:
        raise InputError("An owner sees every store: leave out --store.")
    password_hash = hash_password(check_password_rules(password))
    now = _now()
    with Session(ledger) as session:
        if store.find_user(session, name) is not None:
            raise InputError("There is already an account named {name}.", name=name)
        store.add_user(session, name=name, role=role, store_id=store_id, password_hash=password_hash, now=now)
        scope = f"store {store_id}" if store_id else "every store"
        store.audit(session, user_name=by, action="user.add", detail=f"{name} ({role.value}, {scope})", now=now)
        session.commit()


def ensure_demo_owner(ledger: Engine) -> bool:
    """A sandbox demo's first console start makes the demo owner account (every store), so a new
    user can open the console the till's F2 points at. Never when any account exists."""
    if list_users(ledger):
        return False
    add_user(
        ledger,
        name=DEMO_CONSOLE_USER,
        role=Role.OWNER,
        store_id=None,
        password=DEMO_CONSOLE_PASSWORD,
        by="pos (sandbox demo)",
    )
    return True


def _existing(session: Session, name: str) -> ConsoleUser:
    user = store.find_user(session, name)
    if user is None:
        raise InputError("There is no account named {name} — see `pos console user list`.", name=name)
    return user


def change_password(ledger: Engine, *, name: str, password: str, by: str) -> None:
    """A new password also enables the account and signs out every browser it had."""
    password_hash = hash_password(check_password_rules(password))
    now = _now()
    with Session(ledger) as session:
        user = _existing(session, name)
        store.set_password(session, user, password_hash=password_hash, now=now)
        store.audit(session, user_name=by, action="user.passwd", detail=name, now=now)
        session.commit()


def disable_user(ledger: Engine, *, name: str, by: str) -> None:
    now = _now()
    with Session(ledger) as session:
        user = _existing(session, name)
        store.disable_user(session, user, now=now)
        store.audit(session, user_name=by, action="user.disable", detail=name, now=now)
        session.commit()


def list_users(ledger: Engine) -> list[ConsoleUser]:
    with Session(ledger) as session:
        return list(store.all_users(session))


@dataclass(frozen=True)
class SignedIn:
    token: str  # the session cookie's value (only its hash is stored)
    viewer: Viewer


@dataclass(frozen=True)
class Refused:
    locked_for_s: int  # 0: wrong name or password; else the account is locked this long


def sign_in(
    ledger: Engine, *, name: str, password: str, client: str, lifetime: timedelta, replaces: str | None
) -> SignedIn | Refused:
    """Check the password (constant time, whether or not the account exists) and open a new session.

    A session token is made here and only here, never taken from the browser: a token planted
    before sign-in (session fixation) is never signed in. ``replaces`` (the browser's old session
    cookie, if any) is ended.
    """
    now = _now()
    with Session(ledger) as session:
        user = store.find_user(session, name)
        if user is not None and user.locked_until is not None and user.locked_until > now:
            store.audit(session, user_name=name, action="login.locked", client=client, now=now)
            session.commit()
            return Refused(locked_for_s=max(1, int((user.locked_until - now).total_seconds() + 0.999)))
        ok = password_matches(password, user.password_hash if user is not None else None)
        if user is None or user.disabled or not ok:
            if user is not None and not user.disabled:
                lock = lockout_for(user.failed_logins + 1)
                store.record_login(session, user, ok=False, locked_until=now + lock if lock else None, now=now)
            store.audit(session, user_name=name, action="login.failed", client=client, now=now)
            session.commit()
            return Refused(locked_for_s=0)
        store.record_login(session, user, ok=True, locked_until=None, now=now)
        if replaces:
            store.end_session(session, replaces)
        store.purge_expired_sessions(session, now=now)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        assert user.id is not None
        store.add_session(session, token=token, user_id=user.id, csrf_token=csrf, now=now, expires_at=now + lifetime)
        store.audit(session, user_name=user.name, action="login", client=client, now=now)
        session.commit()
        return SignedIn(token=token, viewer=Viewer.of(user, csrf))


def viewer_of(ledger: Engine, token: str) -> Viewer | None:
    """The signed-in viewer of a session cookie, or None (unknown, expired, or the account disabled)."""
    with Session(ledger) as session:
        found = store.live_session(session, token, now=_now())
    if found is None:
        return None
    row, user = found
    return Viewer.of(user, row.csrf_token)


def sign_out(ledger: Engine, *, token: str, viewer: Viewer, client: str) -> None:
    now = _now()
    with Session(ledger) as session:
        store.end_session(session, token)
        store.audit(session, user_name=viewer.name, action="logout", client=client, now=now)
        session.commit()


def record(ledger: Engine, *, viewer: Viewer, action: str, detail: str, client: str) -> None:
    """Audit an action that changes nothing in the ledger (a download)."""
    with Session(ledger) as session:
        store.audit(session, user_name=viewer.name, action=action, detail=detail, client=client, now=_now())
        session.commit()
