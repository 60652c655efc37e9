"""Opening a journal that is already at the newest revision needs no alembic (the till's start):
the revision read from the migration files is alembic's own head, and a fresh process that opens a
current journal never imports alembic; a journal behind is still migrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pos_app.journal.db import head_from_files, head_revision, open_journal, stored_revision


def test_the_files_name_alembics_head() -> None:
    assert head_from_files() == head_revision()


def test_a_current_journal_opens_without_alembic(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    open_journal(path).dispose()  # created and migrated (alembic runs here)
    script = (
        "import sys; from pathlib import Path; from pos_app.journal.db import open_journal, stored_revision;"
        f"e = open_journal(Path({str(path)!r})); print(stored_revision(e));"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    revision, alembic_modules = result.stdout.splitlines()
    assert revision == head_revision()
    assert alembic_modules == "[]"


def test_a_journal_behind_is_still_migrated(tmp_path: Path) -> None:
    from alembic import command

    from pos_app.journal.db import alembic_config

    path = tmp_path / "journal.sqlite3"
    engine = open_journal(path)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert stored_revision(engine) == "0004"
    engine.dispose()
    engine = open_journal(path)
    assert stored_revision(engine) == head_revision()
    engine.dispose()
    assert list(tmp_path.glob("journal.sqlite3.bak-0004*")), "the journal was backed up before its upgrade"


def test_a_new_file_has_no_revision(tmp_path: Path) -> None:
    from pos_app.journal.db import make_engine

    engine = make_engine(tmp_path / "empty.sqlite3")
    assert stored_revision(engine) is None
    engine.dispose()
