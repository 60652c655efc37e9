"""`pos report`: the day's figures from this terminal's journal, stored Z reports, and sales exports.

- ``pos report daily [--date D] [--format table|csv|json]`` — totals by channel, cashier and hour;
  a closed day shows its Z report's figures and, apart, the payments that settled after the close.
- ``pos report z [--date D] [--format table|json]`` — a stored Z report (refused if it was edited).
- ``pos report export --from D --to D --format csv|xlsx --out FILE`` — every sale of a day or range.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from pos_app.domain.errors import PosError
from pos_app.extras import require

CONFIG_OPTION = click.option(
    "--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Profile file (default: $POS_HOME/pos.toml or the user data directory).",
)  # fmt: skip
JOURNAL_OPTION = click.option(
    "--journal", "journal_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Journal file (default: the profile's [terminal] journal_path).",
)  # fmt: skip


def _day(value: str | None, hint: str) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD).", param_hint=hint) from None


@contextmanager
def _journal(config: Path | None, journal_file: Path | None) -> Iterator[tuple[Engine, str | None]]:
    """The profile's journal (read through the same migrations the till uses) and its terminal id:
    the profile's, or, for a journal file given alone, the terminal that wrote it (None if several).
    The reports are written in the till's language (``[terminal] language``, else the system's)."""
    from pos_app.config import config_path, load_settings
    from pos_app.i18n import set_language
    from pos_app.journal.db import open_journal, session_scope
    from pos_app.journal.figures import journal_terminals

    terminal_id: str | None = None
    language: str | None = None
    if journal_file is None:
        settings = load_settings(config or config_path())
        journal_file = settings.path(settings.terminal.journal_path)
        terminal_id = settings.terminal.terminal_id
        language = settings.terminal.language
    set_language(language)
    if not journal_file.exists():
        raise PosError(f"{journal_file}: no journal here yet — has this terminal made a sale?")
    engine = open_journal(journal_file)
    try:
        if terminal_id is None:
            with session_scope(engine) as session:
                terminals = journal_terminals(session)
            terminal_id = terminals[0] if len(terminals) == 1 else None
        yield engine, terminal_id
    finally:
        engine.dispose()


@click.group()
def report() -> None:
    """Daily figures, Z reports and sales exports from this terminal's journal."""


# --- daily -----------------------------------------------------------------------------------------

FIGURE_COLUMNS = ("sales_count", "sales_fen", "refunds_count", "refunds_fen", "voids_count", "voids_fen", "net_fen")


def daily_csv(content: dict[str, Any]) -> str:
    """One row per slice: ``section,name,<figures...>`` (section: channel, cashier, total, hour)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["business_day", "section", "name", *FIGURE_COLUMNS])
    day = content["business_day"]
    for name, figures in content["channels"].items():
        writer.writerow([day, "channel", name, *(figures[c] for c in FIGURE_COLUMNS)])
    writer.writerow([day, "total", "all", *(content["total"][c] for c in FIGURE_COLUMNS)])
    for name, figures in content["cashiers"].items():
        writer.writerow([day, "cashier", name, *(figures[c] for c in FIGURE_COLUMNS)])
    for hour, figures in content["hours"].items():
        writer.writerow([day, "hour", hour, figures["sales_count"], figures["sales_fen"], "", "", "", "", ""])
    return out.getvalue()


@report.command()
@click.option("--date", "day_text", default=None, help="Business day YYYY-MM-DD (default: today).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
    help="Output format.",
)  # fmt: skip
@CONFIG_OPTION
@JOURNAL_OPTION
def daily(day_text: str | None, fmt: str, config: Path | None, journal_file: Path | None) -> None:
    """Sales, refunds, voids and net by channel, cashier and hour for one business day."""
    from pos_app.journal.db import session_scope
    from pos_app.journal.figures import cash_summary, daily_totals, open_refunds, unsettled_payments
    from pos_app.journal.reports import closed_day_notes
    from pos_app.terminal.report_text import render_text

    day = _day(day_text, "--date")
    with _journal(config, journal_file) as (engine, terminal_id), session_scope(engine) as session:
        content = daily_totals(session, day, terminal_id=terminal_id).as_dict()
        content["cash"] = cash_summary(session, day, terminal_id=terminal_id)
        content["unsettled_payments"] = unsettled_payments(session, day, terminal_id=terminal_id)
        content["unsettled_refunds"] = open_refunds(session, terminal_id=terminal_id)
        content.update(closed_day_notes(session, day, terminal_id=terminal_id))
    if fmt == "json":
        click.echo(json.dumps(content, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(daily_csv(content), nl=False)
    else:
        click.echo(render_text(content), nl=False)


@report.command()
@click.option("--date", "day_text", default=None, help="Business day YYYY-MM-DD (default: today).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@CONFIG_OPTION
@JOURNAL_OPTION
def z(day_text: str | None, fmt: str, config: Path | None, journal_file: Path | None) -> None:
    """Show the stored Z report of a day (exit 1 if there is none or it no longer matches its hash)."""
    from pos_app.journal.days import get_z_report
    from pos_app.journal.db import session_scope
    from pos_app.journal.z_store import list_z_reports, z_content
    from pos_app.terminal.report_text import render_text

    day = _day(day_text, "--date")
    with _journal(config, journal_file) as (engine, terminal_id), session_scope(engine) as session:
        stored = get_z_report(session, terminal_id, day) if terminal_id else None
        if stored is None and terminal_id is None:
            stored = next((r for r in list_z_reports(session) if r.business_day == day.isoformat()), None)
        if stored is None:
            raise PosError(f"No Z report for {day} — the day has not been closed on this terminal.")
        content = z_content(stored)
    if fmt == "json":
        click.echo(json.dumps(content, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(content), nl=False)


# --- export ----------------------------------------------------------------------------------------


def write_csv(rows: Iterator[tuple[str | int, ...]], columns: tuple[str, ...], out: Path) -> int:
    count = 0
    with out.open("w", encoding="utf-8-sig", newline="") as handle:  # BOM: Excel opens it as UTF-8
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_xlsx(rows: Iterator[tuple[str | int, ...]], columns: tuple[str, ...], out: Path) -> int:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    sheet = book.create_sheet("sales")
    sheet.append(list(columns))
    count = 0
    for row in rows:
        sheet.append(list(row))
        count += 1
    book.save(out)
    return count


@report.command()
@click.option("--from", "first_text", default=None, help="First business day YYYY-MM-DD (default: today).")
@click.option("--to", "last_text", default=None, help="Last business day YYYY-MM-DD (default: --from).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@CONFIG_OPTION
@JOURNAL_OPTION
def export(
    first_text: str | None, last_text: str | None, fmt: str, out: Path, config: Path | None, journal_file: Path | None
) -> None:
    """Export every sale (all states, amounts in fen and yuan) of a day or a range to CSV or XLSX."""
    from pos_app.journal.db import session_scope
    from pos_app.journal.sales_export import EXPORT_COLUMNS, export_rows

    if fmt == "xlsx":
        require("xlsx", what="pos report export --format xlsx")
    first = _day(first_text, "--from")
    last = _day(last_text, "--to") if last_text else first
    if last < first:
        raise click.BadParameter("--to is before --from.", param_hint="--to")
    with _journal(config, journal_file) as (engine, terminal_id), session_scope(engine) as session:
        rows = export_rows(session, first, last, terminal_id=terminal_id)
        count = (write_xlsx if fmt == "xlsx" else write_csv)(rows, EXPORT_COLUMNS, out)
    click.echo(f"{count} sales from {first} to {last} written to {out}")
