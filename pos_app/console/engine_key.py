"""The console key file ([console] engine_key_file): made once, 0600 from the first byte."""

from __future__ import annotations

from pathlib import Path

from pos_app.api.console_link import new_key_text
from pos_app.private_files import private_dir
from pos_app.secret_files import write_secret_file


def make_engine_key(path: Path, *, rotate: bool = False) -> bool:
    """Write a new key unless one is there (``rotate`` replaces it). True when a key was written."""
    if path.exists() and not rotate:
        return False
    private_dir(path.parent)
    write_secret_file(path, new_key_text().encode("ascii"))
    return True
