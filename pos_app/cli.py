"""The `pos` command: the composition root. Subcommands are imported only when they run, so
`pos --help` stays fast and the terminal process never loads engine or sandbox code it does not use.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from pos_app import __version__
from pos_app.domain.errors import PosError
from pos_app.lean_imports import skip_unused_imports
from pos_app.process_gc import pause_during_start

# name -> ("module:attribute", one-line help shown by `pos --help` without importing the module)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "terminal": ("pos_app.commands.terminal:terminal", "Open the checkout terminal (the default)."),
    "demo": ("pos_app.commands.demo:demo", "Create a sandbox demo profile."),
    "engine": ("pos_app.commands.engine:engine", "Run and administer the payment engine."),
    "sandbox": ("pos_app.commands.sandbox:sandbox", "Simulated WeChat Pay / Alipay gateways and wallet."),
    "journal": ("pos_app.commands.journal:journal", "Inspect and verify the terminal journal."),
    "report": ("pos_app.commands.report:report", "Daily figures, Z reports and sales exports of this terminal."),
    "reconcile": ("pos_app.commands.reconcile:reconcile", "Reconcile a day's provider bills with the ledger."),
    "doctor": ("pos_app.commands.doctor:doctor", "Check configuration, keys, clock, engine and database."),
    "console": ("pos_app.commands.console:console", "The managers' web console and its accounts."),
    "qr": ("pos_app.commands.qr:qr", "The store's printed QR card (pos qr print)."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target[0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target[0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(SUBCOMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pos")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Point of sale and QR checkout for WeChat Pay and Alipay.

    With no command, opens the checkout terminal: on a fresh machine it creates a sandbox demo
    profile, starts the simulated gateways and the payment engine, and opens the till in training mode.
    """
    if ctx.invoked_subcommand is None:
        command = cli.get_command(ctx, "terminal")
        assert command is not None
        ctx.invoke(command)


#: The commands whose process runs until stopped and ends its start by freezing it (pos_app.process_gc).
LONG_RUNNING = (["terminal"], ["engine", "serve"], ["sandbox", "serve"], ["console", "serve"])


def starts_long_running(args: list[str]) -> bool:
    """``args`` are `pos` alone (the till) or, options aside, a command in LONG_RUNNING."""
    words = [arg for arg in args if not arg.startswith("-")]
    return not args or any(words[: len(command)] == command for command in LONG_RUNNING)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: a PosError becomes one line on stderr and exit code 1, never a traceback."""
    skip_unused_imports()  # before any subcommand is imported: see pos_app.lean_imports
    if starts_long_running(sys.argv[1:] if argv is None else argv):
        pause_during_start()  # no collection while it starts: it freezes its start once up
    try:
        return cli.main(args=argv, prog_name="pos", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except PosError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
