"""Opening the ledger: engine construction, SQLite pragmas, PostgreSQL, Alembic migrations to head.

SQLite (the default) runs in WAL mode with ``synchronous=FULL`` and a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE``: one writer at a time, so a read-then-compare-and-set
inside a transaction cannot interleave with another writer. PostgreSQL (``postgresql+psycopg://``)
relies on row locks and the compare-and-set on ``(state, version)``; migrations take an advisory
lock so that several engine processes starting together migrate once.

A SQLite ledger file is created 0600 (its directory 0700) before SQLite opens it, and the file and
its ``-wal``/``-shm``/``-journal`` companions are made 0600 on every new connection, whatever the
umask: the ledger holds every payment of every store.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import StaticPool

import pos_app.engine.store.models  # noqa: F401  (registers the tables on the ledger's metadata)
from pos_app import migration_files
from pos_app.backup import backup_sqlite
from pos_app.private_files import private_file, tighten_sqlite_files

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Execution option marking read-only work (SQLite: a deferred BEGIN instead of BEGIN IMMEDIATE).
READONLY_OPTION = "pos_readonly"
#: Arbitrary constant naming the "migrating the ledger" advisory lock on PostgreSQL.
_MIGRATION_LOCK_KEY = 0x504F5301


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: str) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    path: Path | None = None
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        path = Path(url[len("sqlite:///") :]).expanduser()
        private_file(path)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        if path is not None:
            tighten_sqlite_files(path)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers (see `reader`) take no write lock; every other transaction is a writer from its
        # first statement, so a read-decide-write transaction never interleaves with another writer.
        readonly = connection.get_execution_options().get(READONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def reader(engine: Engine) -> Engine:
    """The same engine (same pool) for read-only transactions, which on SQLite take no write lock."""
    return engine.execution_options(**{READONLY_OPTION: True})


def make_engine(database_url: str) -> Engine:
    """Build (but do not migrate) the ledger engine for ``sqlite:///…`` or ``postgresql+psycopg://…``."""
    if database_url.startswith("sqlite"):
        return _sqlite_engine(database_url)
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Run Alembic migrations to ``revision`` in one transaction (serialised across processes)."""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as connection:
        if not is_sqlite(engine):
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def _backup_before_upgrade(engine: Engine) -> None:
    """A SQLite ledger made by an older version is copied beside itself before it is migrated.

    (PostgreSQL: operators take a pg_dump; copying a server database is not the engine's job.)
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    database = engine.url.database
    if not is_sqlite(engine) or not database or database == ":memory:" or not Path(database).exists():
        return
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current is not None and current != head:
        copy = backup_sqlite(Path(database), label=current)
        log.info("ledger schema %s backed up to %s before upgrading to %s", current, copy, head)


def head_from_files() -> str | None:
    """The newest ledger migration's revision, read without alembic (see pos_app.migration_files)."""
    return migration_files.head_from_files(MIGRATIONS / "versions")


def open_ledger(database_url: str) -> Engine:
    """The ledger engine, migrated to the newest schema. ``database_url`` as in Settings.database_url.

    An older SQLite ledger is backed up first (``engine.sqlite3.bak-<revision>-<time>``).
    """
    engine = make_engine(database_url)
    current = migration_files.stored_revision(engine)
    if current is None or current != head_from_files():
        # Alembic only when there is something to do (see pos_app.migration_files): a start with a
        # current ledger skips its ~100 ms of imports.
        _backup_before_upgrade(engine)
        migrate(engine)
    log.info("ledger open (%s)", engine.dialect.name)
    return engine
