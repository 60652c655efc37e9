"""`pos doctor` checks of secrets at rest: owner-only profile, ledger and journal files, the ledger key
file, and no terminal key left in clear in the ledger.

Each check returns Findings like the rest of ``pos_app.doctor`` and never prints secret material.
``pos_app.doctor`` lists these checks, so its Finding and Level are imported when a check runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pos_app.config import Settings
from pos_app.private_files import open_to_others, sqlite_files
from pos_app.secret_files import KeyFileError

if TYPE_CHECKING:
    from pos_app.doctor import Finding


def _file_findings(check: str, database: Path, what: str) -> Iterable[Finding]:
    """A SQLite file and its -wal/-shm/-journal must be owner-only; their directory should be."""
    from pos_app.doctor import Finding, Level

    loose = [p for p in sqlite_files(database) if open_to_others(p)]
    if loose:
        names = " ".join(str(p) for p in loose)
        yield Finding(
            Level.ERROR,
            check,
            f"The {what} is readable by other users of this machine: {names}.",
            f"chmod 600 {names} (the {what} holds every payment).",
        )
    else:
        yield Finding(Level.OK, check, f"{what} files owner-only (0600)")
    if open_to_others(database.parent):
        yield Finding(
            Level.WARN,
            check,
            f"Other users can enter {database.parent}, the {what}'s directory.",
            f"chmod 700 {database.parent}",
        )


def check_engine_secrets(settings: Settings) -> Iterable[Finding]:
    """The ledger's files (SQLite), its key file, and its terminal keys (sealed, opening with the file)."""
    from pos_app.doctor import Finding, Level
    from pos_app.engine.crypto.sealing import read_ledger_key

    url = settings.database_url
    database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    key_file = settings.path(settings.engine.ledger_key_file)
    if database is not None and not database.exists():
        yield Finding(Level.OK, "secrets", "ledger not created yet: its key file is made on first start")
        return
    if database is not None:
        yield from _file_findings("secrets", database, "engine ledger")
    try:
        sealer = read_ledger_key(key_file)
    except KeyFileError as exc:
        fix = (
            "Restore the ledger key file from the backup: the terminal keys in the ledger are sealed with it "
            "(without it, activate every terminal again)."
        )
        yield Finding(Level.ERROR, "secrets", exc.message, fix)
        sealer = None
    else:
        yield Finding(Level.OK, "secrets", "ledger key file present, owner only")
    yield from _terminal_keys(settings, sealer)


def _terminal_keys(settings: Settings, sealer: object) -> Iterable[Finding]:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from pos_app.doctor import Finding, Level
    from pos_app.engine.crypto.sealing import KeySealer, SealedValueError
    from pos_app.engine.store.terminals import a_sealed_key, count_clear_keys

    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session:
            clear = count_clear_keys(session=session)
            sample = a_sealed_key(session=session)
    except SQLAlchemyError as exc:
        yield Finding(
            Level.WARN, "secrets", f"Terminal keys not checked: the ledger cannot be read ({type(exc).__name__})."
        )
        return
    finally:
        engine.dispose()
    if clear:
        yield Finding(
            Level.ERROR,
            "secrets",
            f"{clear} terminal key(s) are stored in clear in the ledger: a copy of it could sign as those tills.",
            "Start `pos engine serve` once: it seals them under the ledger key file.",
        )
    else:
        yield Finding(Level.OK, "secrets", "no terminal key in clear in the ledger")
    if isinstance(sealer, KeySealer) and sample is not None and sample.sealed_key is not None:
        try:
            sealer.open(sample.sealed_key, bound_to=sample.terminal_id)
        except SealedValueError:
            yield Finding(
                Level.ERROR,
                "secrets",
                "The terminal keys in the ledger do not open with the ledger key file: it is another ledger's.",
                "Restore this ledger's key file, or activate every terminal again.",
            )


def check_journal_files(settings: Settings) -> Iterable[Finding]:
    """The till's journal and its companions are owner-only."""
    from pos_app.doctor import Finding, Level

    journal = settings.path(settings.terminal.journal_path)
    if not journal.exists():
        yield Finding(Level.OK, "journal files", "journal not created yet")
        return
    yield from _file_findings("journal files", journal, "till journal")
