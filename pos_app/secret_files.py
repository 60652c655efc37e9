"""Secret files on disk (keys, the terminal key): owner-only mode checked on read, 0600 from the first byte.

Standard library only, so the till (its terminal key) and the engine (merchant keys) share one rule
without the till importing the engine's crypto.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pos_app.domain.errors import PosError


class KeyFileError(PosError):
    """A key file is missing, unreadable, too open, or does not hold the expected key.

    The message names the file, never its content.
    """


def check_owner_only(path: Path) -> None:
    """Refuse a key file that group or others can read (DESIGN.md §7)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeyFileError(f"Key file {path} does not exist.") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"Key file {path} is readable by others: run `chmod 600 {path}`.")


def read_key_text(path: Path, *, secret: bool) -> str:
    """The text of a key file; a secret one must be owner-only first."""
    if secret:
        check_owner_only(path)
    try:
        return path.read_text("ascii")
    except FileNotFoundError as exc:
        raise KeyFileError(f"Key file {path} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"Key file {path} cannot be read.") from exc


def load_secret_bytes(path: Path, *, length: int | None = None) -> bytes:
    """A symmetric secret (the APIv3 key, a terminal key) kept in a file, without a trailing newline."""
    value = read_key_text(path, secret=True).strip().encode("ascii")
    if length is not None and len(value) != length:
        raise KeyFileError(f"Key file {path} must hold exactly {length} characters, it holds {len(value)}.")
    return value


def write_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the first byte (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
