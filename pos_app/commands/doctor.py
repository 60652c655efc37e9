"""`pos doctor`: check a profile, say what to fix; non-zero exit on any error."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pos_app.config import config_path, load_settings
from pos_app.doctor import ENGINE_CHECKS, TERMINAL_CHECKS, Level, run_checks

_MARK = {Level.OK: "ok   ", Level.NOTE: "note ", Level.WARN: "WARN ", Level.ERROR: "ERROR"}


@click.command()
@click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="Profile file (default: $POS_HOME/pos.toml)."
)
@click.option("--engine", "role", flag_value="engine", help="Only the engine's checks (keys, database).")
@click.option("--terminal", "role", flag_value="terminal", help="Only the terminal's checks (engine, activation).")
def doctor(config_file: Path | None, role: str | None) -> None:
    """Check configuration, keys, clock, engine, activation, disk, libzbar and database."""
    settings = load_settings(config_file or config_path())
    checks = {"engine": ENGINE_CHECKS, "terminal": TERMINAL_CHECKS}.get(role or "", ENGINE_CHECKS + TERMINAL_CHECKS)
    findings = run_checks(settings, dict.fromkeys(checks))  # dict.fromkeys: ordered de-duplication
    for finding in findings:
        line = f"{_MARK[finding.level]} {finding.check:<10} {finding.message}"
        if finding.fix:
            line += f"\n      {'':<10} → {finding.fix}"
        click.echo(line)
    errors = sum(f.level is Level.ERROR for f in findings)
    warnings, notes = (sum(f.level is level for f in findings) for level in (Level.WARN, Level.NOTE))
    click.echo(f"\n{errors} error(s), {warnings} warning(s), {notes} note(s).")
    sys.exit(1 if errors else 0)
