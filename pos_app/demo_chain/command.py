"""`pos demo chain`: the profile directory, the progress lines and the summary (the logic is in run.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import httpx

from pos_app.config import default_home
from pos_app.demo_chain.plan import CONSOLE_ACCOUNTS
from pos_app.demo_chain.run import ChainSummary, generate_chain
from pos_app.demo_chain.tills import DemoStepFailed
from pos_app.domain.errors import PosError
from pos_app.i18n import _


def default_chain_home() -> Path:
    """The `chain` profile: `pos terminal --profile chain` opens its first till."""
    return default_home() / "profiles" / "chain"


def run_chain_command(directory: Path | None, *, days: int, seed: int) -> None:
    home = (directory or default_chain_home()).expanduser().resolve()
    click.echo(_("Making a demo chain in {home}: {days} days of history (seed {seed})…").format(
        home=home, days=days, seed=seed))  # fmt: skip
    try:
        summary = asyncio.run(generate_chain(home, days=days, seed=seed, progress=click.echo))
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    except (PosError, OSError, DemoStepFailed, httpx.HTTPError) as exc:
        raise click.ClickException(_("The demo chain could not be made: {reason}").format(reason=exc)) from None
    _print_summary(summary)


def _print_summary(summary: ChainSummary) -> None:
    for line in summary.lines():
        click.echo(line)
    click.echo(_("Open a till:    POS_HOME={home} pos").format(home=summary.home))
    click.echo(_("Console:        POS_HOME={home} pos console serve").format(home=summary.home))
    for name, password, store_id in CONSOLE_ACCOUNTS:
        scope = store_id or _("every store")
        click.echo(_("                {name} / {password} ({scope})").format(name=name, password=password, scope=scope))
    click.echo(_("Other tills:    POS_HOME={home}/tills/T002 pos (T003, T004: the second store)").format(
        home=summary.home))  # fmt: skip
