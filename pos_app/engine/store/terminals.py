"""Terminals, their activation codes and keys, seen request nonces, and the registry over them.

Uploaded journal events are kept by ``synced_journal``; the registry stores a terminal's batches there.

These tables live in the engine ledger database (SQLite or PostgreSQL) on the shared SQLModel
metadata. Nothing here is kept in process memory that another engine process would need: a reused
nonce is caught by a primary key, a replayed journal event by the (terminal_id, seq) key.

Terminal keys are stored sealed under the ledger key file (``crypto.sealing``): a copy of the
database alone cannot sign as a till. Ledgers made before sealing hold clear keys in ``key_b64``;
:meth:`TerminalRegistry.start` seals them and empties that column.

The caller owns the transaction: every function takes ``session=`` and never commits, except the
few ``TerminalRegistry`` methods, which are whole use cases (one transaction each).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, col, delete, select

from pos_app.domain.errors import AuthorisationError, ConfigError
from pos_app.engine.crypto.sealing import KeySealer, SealedValueError, create_ledger_key, read_ledger_key
from pos_app.engine.store.base import LedgerTable
from pos_app.engine.store.seen import SeenTerminals
from pos_app.engine.store.synced_journal import (
    IncomingEvent,
    SyncConflict,
    SyncedJournalEvent,
    held_seq,
    store_journal_events,
)
from pos_app.engine.store.utc_columns import aware, sql_time, stored, utcnow

log = logging.getLogger(__name__)

#: Activation codes are typed by a person: no 0/O/1/I/L to confuse.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_GROUPS, _CODE_GROUP_LEN = 3, 4
TERMINAL_KEY_BYTES = 32
#: How long an engine process trusts a terminal key it read (a re-activation elsewhere shows after this).
KEY_CACHE_S = 10.0


class Terminal(LedgerTable, table=True):
    """An activated terminal. ``sealed_key`` is its HMAC key sealed under the ledger key file (the
    engine opens it to verify); ``key_b64`` is only ever set in a ledger made before sealing."""

    __tablename__ = "terminals"

    terminal_id: str = Field(primary_key=True, max_length=4)
    store_id: str = Field(max_length=6, index=True)
    name: str = Field(default="", max_length=64)
    key_b64: str | None = Field(default=None, max_length=64)
    sealed_key: str | None = Field(default=None, max_length=128)
    activated_at: datetime
    disabled: bool = False
    # What the console's Terminals page shows (issue 17): written at most every SEEN_FLUSH_S by
    # ``seen.SeenTerminals``, and with each journal upload (the till's newest journal seq).
    last_seen_at: datetime | None = None
    version: str | None = Field(default=None, max_length=32)
    journal_head_seq: int | None = None


class ActivationCode(LedgerTable, table=True):
    """A one-time code; only its SHA-256 is stored, so a copy of the database cannot activate anything."""

    __tablename__ = "activation_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    store_id: str | None = Field(default=None, max_length=6)
    terminal_id: str | None = Field(default=None, max_length=4)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = Field(default=None, max_length=4)


class SeenNonce(LedgerTable, table=True):
    """A nonce already used by a terminal, kept until its timestamp is outside the skew window."""

    __tablename__ = "terminal_nonces"

    terminal_id: str = Field(primary_key=True, max_length=4)
    nonce: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(index=True)


TABLES = [Terminal.__table__, ActivationCode.__table__, SeenNonce.__table__, SyncedJournalEvent.__table__]  # type: ignore[attr-defined]


class ActivationError(AuthorisationError):
    """The activation code is unknown, used, expired or meant for another terminal."""

    default_message = "That activation code is not valid — ask the manager for a new one."


def normalise_activation_code(raw: str) -> str:
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def hash_activation_code(raw: str) -> str:
    return hashlib.sha256(normalise_activation_code(raw).encode("ascii", "replace")).hexdigest()


def new_activation_code() -> str:
    """``XXXX-XXXX-XXXX``: 12 characters from a 31-letter alphabet (about 59 bits)."""
    groups = ("".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUP_LEN)) for _ in range(_CODE_GROUPS))
    return "-".join(groups)


# --- queries (the caller owns the session and the transaction) ---------------------------------


def add_activation_code(
    *,
    session: Session,
    code: str,
    ttl: timedelta,
    store_id: str | None = None,
    terminal_id: str | None = None,
    now: datetime | None = None,
) -> ActivationCode:
    created = now or utcnow()
    row = ActivationCode(
        code_hash=hash_activation_code(code),
        store_id=store_id,
        terminal_id=terminal_id,
        created_at=stored(created),
        expires_at=stored(created + ttl),
    )
    session.add(row)
    return row


def redeem_activation_code(
    *,
    session: Session,
    code: str,
    store_id: str,
    terminal_id: str,
    name: str,
    sealer: KeySealer,
    now: datetime | None = None,
) -> bytes:
    """Use up the code and (re)key the terminal (the key stored sealed). Returns the new terminal key."""
    moment = now or utcnow()
    row = session.get(ActivationCode, hash_activation_code(code), with_for_update=True)
    if row is None or row.used_at is not None:
        raise ActivationError()
    if aware(row.expires_at) <= moment:
        raise ActivationError("That activation code has expired — ask the manager for a new one.")
    if (row.store_id and row.store_id != store_id) or (row.terminal_id and row.terminal_id != terminal_id):
        raise ActivationError(
            "That activation code was made for another store or terminal — check the store and terminal codes."
        )
    existing = session.get(Terminal, terminal_id, with_for_update=True)
    if existing is not None and existing.store_id != store_id:
        raise ActivationError(
            f"Terminal {terminal_id} already belongs to store {existing.store_id} — pick another terminal code."
        )
    key = secrets.token_bytes(TERMINAL_KEY_BYTES)
    row.used_at = stored(moment)
    row.used_by = terminal_id
    terminal = existing or Terminal(terminal_id=terminal_id, store_id=store_id, activated_at=stored(moment))
    terminal.name = name
    terminal.key_b64 = None
    terminal.sealed_key = sealer.seal(key, bound_to=terminal_id)
    terminal.activated_at = stored(moment)
    terminal.disabled = False
    session.add(row)
    session.add(terminal)
    return key


def get_terminal(*, session: Session, terminal_id: str) -> Terminal | None:
    return session.get(Terminal, terminal_id)


def seal_clear_keys(*, session: Session, sealer: KeySealer) -> int:
    """Seal every clear key a ledger made before sealing still holds, and empty ``key_b64``."""
    rows = session.exec(select(Terminal).where(col(Terminal.key_b64).is_not(None))).all()
    for row in rows:
        assert row.key_b64 is not None
        row.sealed_key = sealer.seal(base64.urlsafe_b64decode(row.key_b64), bound_to=row.terminal_id)
        row.key_b64 = None
        session.add(row)
    return len(rows)


def count_clear_keys(*, session: Session) -> int:
    return int(session.exec(select(func.count()).where(col(Terminal.key_b64).is_not(None))).one())


def a_sealed_key(*, session: Session) -> Terminal | None:
    """Any terminal with a sealed key (to check that the key file opens this ledger's keys)."""
    return session.exec(select(Terminal).where(col(Terminal.sealed_key).is_not(None)).limit(1)).first()


def note_journal_head(*, session: Session, terminal_id: str, head_seq: int) -> None:
    """Record the till's newest journal seq; never lowered (batches of one till may cross)."""
    row = session.get(Terminal, terminal_id)
    if row is not None and (row.journal_head_seq is None or head_seq > row.journal_head_seq):
        row.journal_head_seq = head_seq
        session.add(row)


def purge_nonces(*, session: Session, now: datetime) -> None:
    session.execute(delete(SeenNonce).where(col(SeenNonce.expires_at) < stored(now)))


# --- the registry: whole use cases, one transaction each ---------------------------------------


class TerminalRegistry:
    """Activation, request-nonce bookkeeping and journal uploads over one database engine."""

    def __init__(self, engine: Engine, sealer: KeySealer, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self._sealer = sealer
        self._purge_after = datetime.min.replace(tzinfo=UTC)
        # terminal_id -> (monotonic time read, (store_id, key)). Keys change only at activation,
        # which drops the entry here; another engine process sees a new key within KEY_CACHE_S.
        self._keys: dict[str, tuple[float, tuple[str, bytes]]] = {}
        self.seen = SeenTerminals(engine, clock)

    @classmethod
    def open(cls, database_url: str, key_file: Path, *, clock: Callable[[], datetime] = utcnow) -> TerminalRegistry:
        """Open (and migrate) the ledger database, then :meth:`start` on it."""
        from pos_app.engine.store.db import open_ledger

        return cls.start(open_ledger(database_url), key_file, clock=clock)

    @classmethod
    def start(cls, engine: Engine, key_file: Path, *, clock: Callable[[], datetime] = utcnow) -> TerminalRegistry:
        """The registry of a migrated ledger, its key file read (or created for a ledger with no sealed
        key yet), every clear key left by an older version sealed."""
        LedgerTable.metadata.create_all(engine, tables=TABLES)
        with Session(engine) as session:
            sealed = a_sealed_key(session=session)
            if key_file.exists():
                sealer = read_ledger_key(key_file)
            elif sealed is not None:
                raise ConfigError(
                    f"The ledger key file {key_file} is missing, and this ledger's terminal keys are sealed "
                    "with it — restore it from the backup (or copy it from the engine that made it); "
                    "without it every terminal must be activated again."
                )
            else:
                sealer = create_ledger_key(key_file)
                log.info("ledger key created at %s", key_file)
            if sealed is not None and sealed.sealed_key is not None:
                try:
                    sealer.open(sealed.sealed_key, bound_to=sealed.terminal_id)
                except SealedValueError:
                    log.error(
                        "terminal keys do not open with %s: it is not this ledger's key file — restore the "
                        "right one, or activate every terminal again",
                        key_file,
                    )
            count = seal_clear_keys(session=session, sealer=sealer)
            session.commit()
        if count:
            log.info("sealed %d clear terminal key(s) under %s", count, key_file)
        return cls(engine, sealer, clock=clock)

    def create_tables(self) -> None:
        LedgerTable.metadata.create_all(self.engine, tables=TABLES)

    def close(self) -> None:
        self.seen.flush()  # the last few seconds of "last seen" notes
        self.engine.dispose()

    def new_activation_code(
        self, *, ttl: timedelta, store_id: str | None = None, terminal_id: str | None = None
    ) -> str:
        code = new_activation_code()
        with Session(self.engine) as session:
            add_activation_code(
                session=session, code=code, ttl=ttl, store_id=store_id, terminal_id=terminal_id, now=self.clock()
            )
            session.commit()
        return code

    def activate(self, *, code: str, store_id: str, terminal_id: str, name: str) -> bytes:
        with Session(self.engine) as session:
            key = redeem_activation_code(
                session=session,
                code=code,
                store_id=store_id,
                terminal_id=terminal_id,
                name=name,
                sealer=self._sealer,
                now=self.clock(),
            )
            session.commit()
        self._keys.pop(terminal_id, None)
        return key

    def disable(self, terminal_id: str) -> bool:
        """Stop accepting this terminal's signature (a new activation code re-enables it). False if unknown.

        Other engine processes stop accepting it within ``KEY_CACHE_S``; this one at once.
        """
        with Session(self.engine) as session:
            row = get_terminal(session=session, terminal_id=terminal_id)
            if row is None:
                return False
            row.disabled = True
            session.add(row)
            session.commit()
        self._keys.pop(terminal_id, None)
        return True

    def terminal(self, terminal_id: str) -> Terminal | None:
        with Session(self.engine) as session:
            row = get_terminal(session=session, terminal_id=terminal_id)
            if row is not None:
                session.expunge(row)
            return row

    def terminal_key(self, terminal_id: str) -> tuple[str, bytes] | None:
        """(store_id, key) of an active terminal, or None (misses are not cached)."""
        cached = self._keys.get(terminal_id)
        if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_S:
            return cached[1]
        row = self.terminal(terminal_id)
        key = self._open_key(row) if row is not None and not row.disabled else None
        if row is None or key is None:
            self._keys.pop(terminal_id, None)
            return None
        value = (row.store_id, key)
        self._keys[terminal_id] = (time.monotonic(), value)
        return value

    def _open_key(self, row: Terminal) -> bytes | None:
        """The terminal's key; None (refused like an unknown terminal) if it does not open."""
        if row.sealed_key is None:
            return None
        try:
            return self._sealer.open(row.sealed_key, bound_to=row.terminal_id)
        except SealedValueError:
            log.error("terminal %s: its key does not open with this engine's ledger key file", row.terminal_id)
            return None

    def remember_nonce(self, terminal_id: str, nonce: str, *, keep_until: datetime) -> bool:
        """Record a nonce; False if this terminal used it before (a replayed request).

        The insert is committed without waiting for the disk (SQLite ``synchronous=NORMAL`` for this
        one transaction, PostgreSQL ``synchronous_commit=off``): it is atomic and survives a process
        crash; only a power cut can lose the last few nonces, reopening replay of requests signed in
        the 300 s before it — and every signed request is idempotent (order numbers, refund numbers,
        journal seqs), so such a replay changes nothing. It saves one disk flush per request.
        """
        now = self.clock()
        purge = now >= self._purge_after
        if purge:
            self._purge_after = now + timedelta(seconds=60)
        if self.engine.dialect.name == "sqlite":
            return self._remember_nonce_sqlite(terminal_id, nonce, keep_until, now if purge else None)
        with Session(self.engine) as session:
            if self.engine.dialect.name == "postgresql":
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            if purge:
                purge_nonces(session=session, now=now)
            session.add(SeenNonce(terminal_id=terminal_id, nonce=nonce, expires_at=stored(keep_until)))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        return True

    def _remember_nonce_sqlite(
        self, terminal_id: str, nonce: str, keep_until: datetime, purge_before: datetime | None
    ) -> bool:
        # The raw driver connection: SQLAlchemy's begin hook would open the transaction before the
        # PRAGMA, and synchronous cannot change inside a transaction.
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA synchronous=NORMAL")
            try:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    if purge_before is not None:
                        cursor.execute("DELETE FROM terminal_nonces WHERE expires_at < ?", (sql_time(purge_before),))
                    cursor.execute(
                        "INSERT INTO terminal_nonces (terminal_id, nonce, expires_at) VALUES (?, ?, ?)",
                        (terminal_id, nonce, sql_time(keep_until)),
                    )
                    cursor.execute("COMMIT")
                except sqlite3.IntegrityError:
                    cursor.execute("ROLLBACK")
                    return False
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
            finally:
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.close()
        finally:
            connection.close()
        return True

    def store_journal_events(
        self, terminal_id: str, events: Sequence[IncomingEvent], *, head_seq: int | None = None
    ) -> int:
        """Store a batch (see ``synced_journal.store_journal_events``) and, in the same transaction,
        the till's newest journal seq when it named one (the console's "unsent" is head − held)."""
        # Two uploads of the same terminal racing: the loser's insert hits the primary key; retrying
        # once re-reads what the winner stored and turns the batch into a harmless replay.
        for attempt in range(2):
            with Session(self.engine) as session:
                try:
                    held = store_journal_events(
                        session=session, terminal_id=terminal_id, events=events, now=self.clock()
                    )
                    if head_seq is not None:
                        note_journal_head(session=session, terminal_id=terminal_id, head_seq=max(head_seq, held))
                    session.commit()
                    return held
                except IntegrityError:
                    session.rollback()
                    if attempt:
                        raise SyncConflict(
                            "Another upload from this terminal is in progress — try again.",
                            acked_seq=0,
                        ) from None
        raise AssertionError("unreachable")

    def acked_seq(self, terminal_id: str) -> int:
        with Session(self.engine) as session:
            return held_seq(session=session, terminal_id=terminal_id)


__all__ = [
    "ActivationCode",
    "ActivationError",
    "SeenNonce",
    "Terminal",
    "TerminalRegistry",
    "new_activation_code",
]
