"""The head revision read from the migration files is alembic's own, for the journal and the ledger;
a current ledger opens (and reports ready) without importing alembic, and a `pos` process skips the
optional imports no pos process uses (pos_app.lean_imports)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pos_app.engine.store import db as ledger_db
from pos_app.journal import db as journal_db
from pos_app.migration_files import head_from_files


def test_file_heads_are_alembics_heads() -> None:
    from alembic.script import ScriptDirectory

    assert ledger_db.head_from_files() == ScriptDirectory.from_config(ledger_db.alembic_config()).get_current_head()
    assert journal_db.head_from_files() == journal_db.head_revision()


def test_two_heads_or_none_defer_to_alembic(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision: str = "a1"\ndown_revision: str | None = None\n')
    (tmp_path / "b.py").write_text('revision = "b1"\ndown_revision = "a1"\n')
    assert head_from_files(tmp_path) == "b1"
    (tmp_path / "c.py").write_text("revision = 'c1'\ndown_revision = 'a1'\n")  # a branch: two heads
    assert head_from_files(tmp_path) is None
    assert head_from_files(tmp_path / "missing") is None


def run(code: str) -> list[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()


def test_a_current_ledger_opens_and_is_ready_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'engine.sqlite3'}"
    ledger_db.open_ledger(url).dispose()  # created and migrated: alembic runs here
    out = run(
        "import sys; from pos_app.engine.store.db import open_ledger;"
        "from pos_app.engine.readiness import ReadinessProbe, all_closed;"
        f"ledger = open_ledger({url!r}); print(ReadinessProbe(ledger, all_closed([])).check().as_json());"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    assert "'status': 'ready'" in out[0] and "'schema': 'current'" in out[0]
    assert out[1] == "[]"


def test_a_ledger_behind_is_reported_not_ready(tmp_path: Path) -> None:
    from alembic import command

    from pos_app.engine.readiness import ReadinessProbe, all_closed

    ledger = ledger_db.open_ledger(f"sqlite:///{tmp_path / 'engine.sqlite3'}")
    config = ledger_db.alembic_config(ledger)
    with ledger.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    try:
        readiness = ReadinessProbe(ledger, all_closed([])).check()
        assert not readiness.ready
        assert readiness.schema == f"at 0002, code expects {ledger_db.head_from_files()}"
    finally:
        ledger.dispose()


def test_the_pos_entry_point_skips_unused_optional_imports() -> None:
    out = run(
        "import sys; from pos_app.lean_imports import skip_unused_imports; skip_unused_imports();"
        "import httpx; httpx.AsyncClient(); import pos_app.engine.server;"
        "print([m for m in ('httpx._main', 'pygments') if sys.modules.get(m) is not None])"
    )
    assert out == ["[]"]


def test_skipped_imports_leave_tenacity_waits_working() -> None:
    """A retry that waits (the sync outbox, `pos reconcile`) must still sleep after the entry
    point's skips: marking trio absent once broke tenacity's async sleep in every pos process."""
    out = run(
        "import asyncio; from pos_app.lean_imports import skip_unused_imports; skip_unused_imports();"
        "import httpx; httpx.AsyncClient();"
        "from tenacity import AsyncRetrying, stop_after_attempt, wait_fixed\n"
        "async def main():\n"
        "    tries = 0\n"
        "    try:\n"
        "        async for attempt in AsyncRetrying(stop=stop_after_attempt(2), wait=wait_fixed(0.01)):\n"
        "            with attempt:\n"
        "                tries += 1\n"
        "                raise ValueError\n"
        "    except Exception as exc:\n"
        "        print(tries, type(exc).__name__)\n"
        "asyncio.run(main())"
    )
    assert out == ["2 RetryError"]
