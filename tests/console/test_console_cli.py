"""`pos console user add|passwd|disable|list`: accounts in the ledger, audited, with clear refusals."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from pos_app.cli import cli
from pos_app.console import accounts
from pos_app.engine.store import open_ledger
from tests.console.support import write_profile


def _run(config: Path, *args: str, password: str | None = None) -> tuple[int, str]:
    extra = ["--password-stdin"] if password is not None else []
    result = CliRunner().invoke(
        cli, ["console", "user", *args, "--config", str(config), *extra], input=(password or "") + "\n"
    )
    return result.exit_code, result.output + (str(result.exception) if result.exception else "")


def test_accounts_are_added_changed_disabled_and_audited(tmp_path: Path) -> None:
    settings = write_profile(tmp_path / "p")
    config = settings.home / "pos.toml"
    assert _run(config, "add", "boss", "--role", "owner", password="a long password")[0] == 0
    assert _run(config, "add", "amy", "--role", "manager", "--store", "S00001", password="another password")[0] == 0
    code, out = _run(config, "list")
    assert code == 0 and "boss\towner\tevery store\tenabled" in out and "amy\tmanager\tstore S00001\tenabled" in out
    ledger = open_ledger(settings.database_url)
    assert isinstance(accounts.sign_in(ledger, name="amy", password="another password", client="t",
                                       lifetime=accounts.FIRST_LOCKOUT, replaces=None), accounts.SignedIn)  # fmt: skip
    assert _run(config, "disable", "amy")[0] == 0
    assert "amy\tmanager\tstore S00001\tdisabled" in _run(config, "list")[1]
    assert isinstance(accounts.sign_in(ledger, name="amy", password="another password", client="t",
                                       lifetime=accounts.FIRST_LOCKOUT, replaces=None), accounts.Refused)  # fmt: skip
    assert _run(config, "passwd", "amy", password="a third password")[0] == 0
    assert isinstance(accounts.sign_in(ledger, name="amy", password="a third password", client="t",
                                       lifetime=accounts.FIRST_LOCKOUT, replaces=None), accounts.SignedIn)  # fmt: skip
    ledger.dispose()
    with contextlib.closing(sqlite3.connect(settings.database_url[len("sqlite:///") :])) as db:
        actions = [r[0] for r in db.execute("SELECT action FROM console_audit WHERE user_name = 'cli' ORDER BY id")]
        stored = [r[0] for r in db.execute("SELECT password_hash FROM console_users")]
    assert actions == ["user.add", "user.add", "user.disable", "user.passwd"]
    assert all(h.startswith("scrypt$32768$8$1$") and "password" not in h for h in stored)


def test_bad_accounts_are_refused_with_a_reason(tmp_path: Path) -> None:
    config = write_profile(tmp_path / "p").home / "pos.toml"
    code, out = _run(config, "add", "amy", "--role", "manager", password="a long password")
    assert code != 0 and "--store" in out
    code, out = _run(config, "add", "amy", "--role", "owner", password="short")
    assert code != 0 and "10–128 characters" in out
    assert _run(config, "add", "amy", "--role", "owner", password="a long password")[0] == 0
    code, out = _run(config, "add", "amy", "--role", "owner", password="a long password")
    assert code != 0 and "already an account named amy" in out
    code, out = _run(config, "disable", "nobody")
    assert code != 0 and "no account named nobody" in out


def _key_command(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["console", "engine-key", *args, "--config", str(config)])
    return result.exit_code, result.output + (str(result.exception) if result.exception else "")


def test_the_console_key_is_made_once_owner_only_and_rotated_on_request(tmp_path: Path) -> None:
    home = tmp_path / "profile"
    write_profile(home)
    config = home / "pos.toml"
    code, out = _key_command(config)
    key = home / "keys" / "console-engine.key"
    assert code == 0 and str(key) in out
    assert key.stat().st_mode & 0o777 == 0o600
    first = key.read_text("ascii")
    assert len(first) == 43 and "=" not in first
    code, out = _key_command(config)
    assert code == 0 and "already holds" in out and key.read_text("ascii") == first
    code, _ = _key_command(config, "--rotate")
    assert code == 0 and key.read_text("ascii") != first
    code, out = _key_command(config, "--help")
    assert code == 0 and "engine_key_file" in out
