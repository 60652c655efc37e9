"""Opening the journal: SQLite in WAL mode, ``synchronous=FULL``, foreign keys on, migrated to head.

Every transaction starts with ``BEGIN IMMEDIATE``: the writer lock is taken up front, so two sessions
(the till and the sync worker) never both read a counter and then collide on the write. Readers wait
up to ``BUSY_TIMEOUT_S`` for the lock instead of failing. Every connection also gets the SQL function
``UNICODE_LOWER``, Python's ``str.lower``, which the sales search folds case with.

The journal file is created 0600 (its directory 0700) before SQLite opens it, and the file and its
``-wal``/``-shm``/``-journal`` companions are made 0600 on every new connection, whatever the umask.

Alembic is imported only when a journal needs migrating: a journal already at the newest revision
(every start of the till but the first after an upgrade) is recognised by one query and the
revision line of each migration file (``pos_app.migration_files``), which spares the till's start
about 100 ms of imports.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from pos_app import migration_files
from pos_app.backup import backup_sqlite
from pos_app.private_files import private_file, tighten_sqlite_files

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_S = 15.0
#: The SQL name of Python's str.lower on journal connections: SQLite's lower() folds ASCII letters only.
UNICODE_LOWER = "unicode_lower"


def _unicode_lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN IMMEDIATE itself.
    dbapi_connection.isolation_level = None
    dbapi_connection.create_function(UNICODE_LOWER, 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(path: Path) -> Engine:
    """An Engine on the journal file (created owner-only) with the pragmas set on every connection
    (no migration)."""
    private_file(path)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "connect", lambda _conn, _record: tighten_sqlite_files(path))
    event.listen(engine, "begin", _on_begin)
    return engine


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the journal's schema to the newest migration (a no-op when it is already there)."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revision(engine: Engine) -> str | None:
    """The journal's current schema revision (None for a new, empty file)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def head_from_files() -> str | None:
    """The newest journal migration's revision, read without alembic (see pos_app.migration_files)."""
    return migration_files.head_from_files(MIGRATIONS / "versions")


def stored_revision(engine: Engine) -> str | None:
    """The revision alembic recorded in the journal (None for a new file), by one plain query."""
    return migration_files.stored_revision(engine)


def open_journal(path: Path) -> Engine:
    """Open (creating if needed) the journal at ``path`` and migrate it to head.

    A journal made by an older version is first copied beside itself (``journal.sqlite3.bak-0001-…``),
    then upgraded: the copy is what an operator restores if an upgrade ever goes wrong.
    """
    path = Path(path)
    engine = make_engine(path)
    current = stored_revision(engine)
    if current is not None and current == head_from_files():
        return engine  # already at the newest revision: nothing for alembic to do
    revision = schema_revision(engine)
    if revision is not None and revision != head_revision():
        backup_sqlite(path, label=revision)
    upgrade(engine)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commits when the block ends normally, rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
