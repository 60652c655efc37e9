"""`pos journal verify`: check the terminal journal's hash chain and its rows against the chain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pos_app.domain.errors import PosError


@click.group()
def journal() -> None:
    """Inspect and verify the terminal journal."""


def _default_path() -> Path:
    from pos_app.config import config_path, load_settings

    settings = load_settings(config_path())
    return settings.path(settings.terminal.journal_path)


@journal.command()
@click.option(
    "--path",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Journal file (default: the profile's [terminal] journal_path).",
)
def verify(path: Path | None) -> None:
    """Walk the hash chain and check every sale, refund, shift and staff row against it.

    Exit 0 with "N events, chain intact"; exit 1 naming the first broken or missing event.
    """
    from pos_app.journal.db import open_journal
    from pos_app.journal.verify import verify_chain

    file = path or _default_path()
    if not file.exists():
        raise PosError(f"{file}: no such journal file.")
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = open_journal(file)
        try:
            result = verify_chain(engine)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        reason = str(orig) if orig is not None else exc.__class__.__name__
        raise PosError(f"{file}: cannot be read as a journal ({reason}).") from None
    if not result.ok:
        click.echo(f"Journal {file}: {result}", err=True)
        sys.exit(1)
    click.echo(str(result))
