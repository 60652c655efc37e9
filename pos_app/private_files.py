"""Owner-only directories and SQLite files: created 0700/0600 whatever the umask, and checked.

The profile, the engine ledger and the terminal journal hold payment records and (sealed) keys; no
other local user may read them. Modes are set explicitly after creation because ``mkdir``/``open``
modes are filtered by the umask. Standard library only: the till and the engine share it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
#: What SQLite writes beside a database: the WAL, its shared-memory index, the rollback journal.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Make ``path`` (and any missing parents) as 0700 directories.

    A directory that already exists keeps its mode: it may be shared on purpose (``/tmp``, a mount);
    ``pos doctor`` reports one that others can enter.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(directory, DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty if it is missing, and make it 0600 (an empty file is an empty database).

    An existing file is never opened here: closing any descriptor of a database file drops every
    POSIX lock this process holds on it, which would break SQLite connections already open on it.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    os.chmod(path, FILE_MODE)


def sqlite_files(path: Path) -> list[Path]:
    """The database file and whichever of its companions exist now."""
    return [p for p in (path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS)) if p.exists()]


def tighten_sqlite_files(path: Path) -> None:
    """Make the database and its companions 0600 (SQLite creates its companions itself)."""
    for file in sqlite_files(path):
        try:
            if stat.S_IMODE(file.stat().st_mode) != FILE_MODE:
                os.chmod(file, FILE_MODE)
        except FileNotFoundError:
            continue  # a rollback journal SQLite deleted meanwhile


def open_to_others(path: Path) -> bool:
    """Whether group or other users have any access to ``path``."""
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
