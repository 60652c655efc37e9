"""The newest schema revision and a database's stored one, without importing alembic.

Alembic (with mako and pygments, which it imports) costs a process 100–200 ms of CPU at start, and
every start but the first after an upgrade finds the database already current. So the journal and
the engine's ledger first compare the revision alembic stored (one query) with the head their
migration files declare (their ``revision`` / ``down_revision`` lines) and import alembic only when
the two differ or the files cannot be read that way. Tests hold the head found here equal to
alembic's own.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

_REVISION_LINE = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*["\']?([^"\'\s]*)["\']?\s*$', re.MULTILINE)


def head_from_files(versions: Path) -> str | None:
    """The revision no migration in ``versions`` names as its parent; None unless exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        found = dict(_REVISION_LINE.findall(script.read_text("utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision", ""))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revision_on(connection: Connection) -> str | None:
    """The revision alembic recorded (None: a new database, or no single revision)."""
    try:
        with connection.begin_nested() if connection.in_transaction() else connection.begin():
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except (OperationalError, ProgrammingError):  # no alembic_version table yet
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def stored_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return stored_revision_on(connection)
