"""The `pos` command: every (sub)command has --help, usage errors exit 2, failures are one line + exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pos_app.cli import SUBCOMMANDS, cli
from pos_app.sandbox.demo import DemoProfile

POS = [sys.executable, "-m", "pos_app"]


def pos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*POS, *args], capture_output=True, text=True, timeout=120, env=env)


def command_paths() -> list[list[str]]:
    """Every command and nested subcommand, found by walking the real click tree."""
    paths: list[list[str]] = []
    context = click.Context(cli)
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        assert command is not None, name
        paths.append([name])
        if isinstance(command, click.Group):
            sub_context = click.Context(command, parent=context)
            paths.extend([name, sub] for sub in command.list_commands(sub_context))
    return paths


def test_top_level_help_lists_every_subcommand() -> None:
    result = pos("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: pos" in result.stdout
    for name in SUBCOMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="pos")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: pos {' '.join(path)}")


def test_the_journal_verify_command_is_there() -> None:
    assert ["journal", "verify"] in command_paths()


def test_unknown_command_is_a_usage_error() -> None:
    result = pos("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr and "Traceback" not in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    result = pos("journal", "verify", "--no-such-option")
    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_version() -> None:
    result = pos("--version")
    assert result.returncode == 0 and result.stdout.startswith("pos, version ")


def test_journal_verify_uses_the_profile_from_pos_home(demo_profile: DemoProfile) -> None:
    env = {**os.environ, "POS_HOME": str(demo_profile.home)}
    missing = pos("journal", "verify", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"Error: {demo_profile.home / 'journal.sqlite3'}: no such journal file."

    from pos_app.journal import open_journal

    open_journal(demo_profile.home / "journal.sqlite3").dispose()
    empty = pos("journal", "verify", env=env)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == "0 events, chain intact"


def test_broken_profile_is_one_line_exit_1(tmp_path: Path) -> None:
    (tmp_path / "pos.toml").write_text("[terminal]\nmax_sale_fen = -1\n", "utf-8")
    result = pos("journal", "verify", env={**os.environ, "POS_HOME": str(tmp_path)})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "[terminal] max_sale_fen" in lines[0]


def test_a_file_that_is_not_a_journal_is_one_line_exit_1(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a database, just some text long enough to not be one" * 20)
    result = pos("journal", "verify", "--path", str(bogus))
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {bogus}: cannot be read as a journal")
    assert len(result.stderr.strip().splitlines()) == 1
