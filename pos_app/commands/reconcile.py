"""`pos reconcile --date D`: reconcile one day's provider bills with the ledger and terminal journals."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from pos_app.config import config_path, load_settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.extras import require


def _parse_day(value: str | None) -> date:
    if value is None:
        return datetime.now(CHINA_TZ).date() - timedelta(days=1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD).", param_hint="--date") from None


@click.command()
@click.option("--date", "day_text", default=None, help="The bill day, YYYY-MM-DD (default: yesterday, Beijing time).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
    help="Output format.",
)  # fmt: skip
@click.option("--no-upload", is_flag=True, help="Do not send the result to the [upload] destination.")
@click.option("--no-apply", is_flag=True, help="Report only: do not settle payments the bills prove.")
@click.option("--refresh", is_flag=True, help="Download the bills again even if they are archived.")
@click.option(
    "--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Profile file (default: $POS_HOME/pos.toml or the user data directory).",
)  # fmt: skip
def reconcile(
    day_text: str | None, fmt: str, no_upload: bool, no_apply: bool, refresh: bool, config: Path | None
) -> None:
    """Download the day's WeChat Pay and Alipay bills, match them with the engine ledger and the
    terminals' journals, settle what the bills prove, print the report and upload it.

    Exit status 1 when a bill could not be reconciled (not ready yet, or rejected)."""
    require("engine", what="pos reconcile")
    from pos_app.engine.reconcile.runner import reconcile_day

    day = _parse_day(day_text)
    settings = load_settings(config or config_path())
    report = asyncio.run(reconcile_day(settings, day, apply=not no_apply, upload=not no_upload, refresh=refresh))
    if fmt == "json":
        click.echo(report.to_json(), nl=False)
    elif fmt == "csv":
        click.echo(report.to_csv(), nl=False)
    else:
        click.echo(report.to_table(), nl=False)
    if not report.complete:
        problems = "; ".join(c.problem or c.status for c in report.channels if c.status not in ("ok", "disabled"))
        raise click.ClickException(f"Reconciliation of {day} is incomplete: {problems}")
