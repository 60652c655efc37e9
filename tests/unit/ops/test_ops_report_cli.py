"""`pos report daily|z|export` on a real journal file, through the real `pos` entry point."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from ops_kit import DAY, START, TERMINAL, add_people, build_day, expected_figures
from sqlalchemy import Engine

from pos_app.cli import cli
from pos_app.journal import session_scope
from pos_app.journal.reports import close_day

pytestmark = pytest.mark.usefixtures("utc_machine")


@pytest.fixture
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reports in the machine's local time; the expectations are in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _journal_file(journal: Engine) -> str:
    assert journal.url.database is not None
    return journal.url.database


def test_daily_json_csv_table(journal: Engine) -> None:
    people = add_people(journal)
    build_day(journal, people, sales=30)
    expected = expected_figures(journal, DAY)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["report", "daily", "--date", DAY, "--format", "json", "--journal", _journal_file(journal)]
    )
    assert result.exit_code == 0, result.output
    content = json.loads(result.output)
    assert content["total"] == expected["total"] and content["channels"] == expected["channels"]
    assert content["hours"] == expected["hours"]
    result = runner.invoke(
        cli, ["report", "daily", "--date", DAY, "--format", "csv", "--journal", _journal_file(journal)]
    )
    rows = list(csv.DictReader(result.output.splitlines()))
    total = next(row for row in rows if row["section"] == "total")
    assert int(total["net_fen"]) == expected["total"]["net_fen"]
    assert {row["name"] for row in rows if row["section"] == "cashier"} == {"Ann", "Bob"}
    result = runner.invoke(cli, ["report", "daily", "--date", DAY, "--journal", _journal_file(journal)])
    assert result.exit_code == 0 and "By channel" in result.output and "By hour" in result.output
    result = runner.invoke(cli, ["report", "daily", "--date", "20-11-2026", "--journal", _journal_file(journal)])
    assert result.exit_code == 2


def test_z_show_and_export(journal: Engine, tmp_path: Path) -> None:
    people = add_people(journal)
    build_day(journal, people, sales=25)
    expected = expected_figures(journal, DAY)
    runner = CliRunner()
    file = _journal_file(journal)
    result = runner.invoke(cli, ["report", "z", "--date", DAY, "--journal", file])
    assert result.exit_code == 1 and "has not been closed" in str(result.exception)
    with session_scope(journal) as session:
        close_day(session, DAY, terminal_id=TERMINAL, by=people.max, at=START, offset_minutes=0)
    result = runner.invoke(cli, ["report", "z", "--date", DAY, "--format", "json", "--journal", file])
    assert result.exit_code == 0 and json.loads(result.output)["total"] == expected["total"]

    out = tmp_path / "sales.csv"
    result = runner.invoke(cli, ["report", "export", "--from", DAY, "--to", DAY, "--out", str(out), "--journal", file])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    paid = [r for r in rows if r["state"] in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")]
    assert len(paid) == expected["total"]["sales_count"]
    assert sum(int(r["amount_fen"]) for r in paid) == expected["total"]["sales_fen"]
    assert all(r["amount"] == f"{int(r['amount_fen']) // 100}.{int(r['amount_fen']) % 100:02d}" for r in rows)

    xlsx = tmp_path / "sales.xlsx"
    result = runner.invoke(
        cli, ["report", "export", "--from", DAY, "--format", "xlsx", "--out", str(xlsx), "--journal", file]
    )
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx, read_only=True)["sales"]
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][:3] == ("business_day", "time", "out_trade_no")
    assert [row[2] for row in table[1:]] == [r["out_trade_no"] for r in rows]
    assert (
        sum(int(row[8]) for row in table[1:] if row[7] in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED"))
        == (expected["total"]["sales_fen"])
    )
    result = runner.invoke(
        cli, ["report", "export", "--from", DAY, "--to", "2026-11-01", "--out", str(xlsx), "--journal", file]
    )
    assert result.exit_code == 2
