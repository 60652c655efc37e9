"""`pos console`: run the managers' web console and manage its accounts."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import Engine

from pos_app.config import Settings, config_path, load_settings
from pos_app.domain.errors import ConfigError
from pos_app.extras import require

log = logging.getLogger("pos_app.console")

_CONFIG = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Profile file (default: $POS_HOME/pos.toml or the user data directory).",
)


def _settings(config: Path | None) -> Settings:
    return load_settings(config or config_path())


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"[console] listen: {listen!r} is not host:port.")
    return host.strip("[]") or "127.0.0.1", int(port)


@contextmanager
def _ledger(config: Path | None) -> Iterator[Engine]:
    settings = _settings(config)
    require("console", *(["postgres"] if settings.database_url.startswith("postgresql") else []), what="pos console")
    from pos_app.engine.store.db import open_ledger

    ledger = open_ledger(settings.database_url)
    try:
        yield ledger
    finally:
        ledger.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise click.UsageError("--password-stdin: no password on standard input.")
        return line
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@click.group()
def console() -> None:
    """The managers' web console: store and chain totals and payments in a browser (no provider keys)."""


@console.command()
@_CONFIG
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config: Path | None, log_level: str) -> None:
    """Serve the console on [console] listen (loopback unless configured otherwise)."""
    settings = _settings(config)
    require("console", *(["postgres"] if settings.database_url.startswith("postgresql") else []), what="pos console")
    from pos_app.console.app import create_console_app
    from pos_app.process_gc import serve as serve_frozen

    logging.basicConfig(level=getattr(logging, log_level.upper()), format="%(asctime)s %(levelname)s %(message)s")
    host, port = split_listen(settings.console.listen)
    app = create_console_app(settings)
    click.echo(f"Console on http://{host}:{port}/ (profile {settings.home}) — Ctrl+C stops it.", err=True)
    # Live Today pages hold a stream open: give them 5 s to end on Ctrl+C, not forever.
    serve_frozen(
        app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False, timeout_graceful_shutdown=5
    )


@console.command("engine-key")
@_CONFIG
@click.option("--rotate", is_flag=True, help="Replace an existing key (restart nothing: both read it per request).")
def engine_key(config: Path | None, rotate: bool) -> None:
    """Make the key the console signs its requests to the engine with ([console] engine_key_file, 0600).

    `pos console serve` makes it on first start too. The engine and the console read the same file:
    on separate machines, copy it (mode 0600)."""
    from pos_app.console.engine_key import make_engine_key

    settings = _settings(config)
    path = settings.path(settings.console.engine_key_file)
    if make_engine_key(path, rotate=rotate):
        click.echo(f"Console key written to {path} (0600). The console may now refund and manage tills.")
    else:
        click.echo(f"{path} already holds a console key; --rotate replaces it.")


@console.group()
def user() -> None:
    """Console accounts: owners see every store, store managers their own store."""


@user.command("add")
@_CONFIG
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["owner", "manager"]), required=True, help="owner: every store; manager: one."
)
@click.option("--store", "store_id", default=None, help="A manager's store code, as in the tills' [terminal] store_id.")
@click.option("--password-stdin", "password_stdin", is_flag=True, help="Read the password from standard input.")
def user_add(config: Path | None, name: str, role: str, store_id: str | None, password_stdin: bool) -> None:
    """Add a console account (the password is asked twice unless --password-stdin)."""
    from pos_app.console import accounts
    from pos_app.engine.store.console_accounts import Role

    password = _read_password(password_stdin)
    with _ledger(config) as ledger:
        accounts.add_user(ledger, name=name, role=Role(role), store_id=store_id, password=password, by="cli")
    click.echo(f"{name} may sign in to the console ({'every store' if role == 'owner' else f'store {store_id}'}).")


@user.command("passwd")
@_CONFIG
@click.argument("name")
@click.option("--password-stdin", "password_stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(config: Path | None, name: str, password_stdin: bool) -> None:
    """Give an account a new password (also enables it and signs out its browsers)."""
    from pos_app.console import accounts

    password = _read_password(password_stdin)
    with _ledger(config) as ledger:
        accounts.change_password(ledger, name=name, password=password, by="cli")
    click.echo(f"{name} has a new password; their open sessions were ended.")


@user.command("disable")
@_CONFIG
@click.argument("name")
def user_disable(config: Path | None, name: str) -> None:
    """Stop an account from signing in (its open sessions end at once; `passwd` enables it again)."""
    from pos_app.console import accounts

    with _ledger(config) as ledger:
        accounts.disable_user(ledger, name=name, by="cli")
    click.echo(f"{name} can no longer sign in to the console.")


@user.command("list")
@_CONFIG
def user_list(config: Path | None) -> None:
    """Every console account, its scope and whether it is enabled."""
    from pos_app.console import accounts

    with _ledger(config) as ledger:
        users = accounts.list_users(ledger)
    for u in users:
        scope = "every store" if u.role == "owner" else f"store {u.store_id}"
        click.echo(f"{u.name}\t{u.role}\t{scope}\t{'disabled' if u.disabled else 'enabled'}")
    if not users:
        click.echo("No console accounts yet: add one with `pos console user add NAME --role owner`.")
