"""`pos demo init --dir DIR`: write a complete sandbox profile (configs + freshly generated keys)."""

from __future__ import annotations

from pathlib import Path

import click

from pos_app.extras import require


@click.group()
def demo() -> None:
    """Create a sandbox demo profile."""


@demo.command("init")
@click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the new profile (created if missing).",
)
@click.option("--force", is_flag=True, help="Replace an existing pos.toml and its keys.")
def init(directory: Path, force: bool) -> None:
    """Write DIR/pos.toml, DIR/keys/ (the engine's) and DIR/sandbox-keys/ (the simulated gateways')."""
    require("sandbox", what="pos demo init")
    from pos_app.sandbox.demo import init_demo_profile

    try:
        profile = init_demo_profile(directory, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote {profile.config}")
    click.echo(f"      {profile.home / 'keys'}/ (engine keys, mode 0600)")
    click.echo(f"      {profile.home / 'sandbox-keys'}/ (simulated gateway keys)")
    click.echo(f"Sandbox will listen on {profile.sandbox_listen}, engine on {profile.engine_listen}.")
    click.echo("Next:")
    click.echo(f"  POS_HOME={profile.home} pos sandbox serve     # the simulated gateways")
    click.echo(f"  POS_HOME={profile.home} pos engine serve      # the payment engine")
    click.echo(f"  POS_HOME={profile.home} pos                   # the till")


@demo.command("chain")
@click.argument("directory", metavar="[DIR]", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--days", default=7, show_default=True, type=click.IntRange(1, 31), help="Days of history, ending yesterday."
)
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same sales, refunds and voids.")
def chain(directory: Path | None, days: int, seed: int) -> None:
    """A demo chain in DIR (default: the `chain` profile): two stores with two tills each, their staff,
    and DAYS days of history made through the real engine, sandbox and tills."""
    require("sandbox", "engine", what="pos demo chain")
    from pos_app.demo_chain.command import run_chain_command

    run_chain_command(directory, days=days, seed=seed)
