"""`pos engine`: run the payment engine, make terminal activation codes, manage the store managers
whose PIN approves refunds and voids."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlmodel import Session

from pos_app.config import Settings, config_path, load_settings
from pos_app.domain.errors import ConfigError
from pos_app.extras import require

log = logging.getLogger("pos_app.engine")


def _settings(config: Path | None) -> Settings:
    return load_settings(config or config_path())


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) -> (host, port), or a ConfigError naming the setting."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"[engine] listen: {listen!r} is not host:port.")
    return host.strip("[]") or "127.0.0.1", int(port)


@click.group()
def engine() -> None:
    """Run and administer the payment engine (the only process holding provider keys)."""


@engine.command()
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Profile file (default: $POS_HOME/pos.toml or the user data directory).",
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(config: Path | None, log_level: str) -> None:
    """Serve the engine HTTP API on [engine] listen (loopback unless configured otherwise).

    With [engine] workers = N (POS_ENGINE__WORKERS), N worker processes share the port."""
    settings = _settings(config)
    require(
        "engine", *(["postgres"] if settings.database_url.startswith("postgresql") else []), what="pos engine serve"
    )
    from pos_app.engine.logging_setup import configure_logging
    from pos_app.engine.server import create_engine_app
    from pos_app.process_gc import serve as serve_frozen

    log_file = settings.path(settings.engine.log_file) if settings.engine.log_file else None
    configure_logging(level=getattr(logging, log_level.upper()), log_file=log_file)
    host, port = split_listen(settings.engine.listen)
    server_options = {
        "log_config": None,  # keep our handlers: uvicorn logs through the root logger
        "access_log": False,
        # A TLS proxy in front (README: what an operator must do) passes the phone's address on; only
        # the configured proxies are believed, or anyone could pick the address the page limits count.
        "proxy_headers": bool(settings.engine.forwarded_allow_ips.strip()),
        "forwarded_allow_ips": settings.engine.forwarded_allow_ips.strip() or None,
        "timeout_graceful_shutdown": 5,
    }
    if settings.engine.workers > 1:
        from pos_app.engine.workers import serve_workers
        from pos_app.process_gc import end_pause

        end_pause()  # this process only supervises; each worker freezes its own start
        log.info(
            "engine listening on http://%s:%d with %d workers (profile %s)",
            host, port, settings.engine.workers, settings.home,
        )  # fmt: skip
        profile = config or config_path()
        serve_workers(
            settings, profile, host=host, port=port, log_level=getattr(logging, log_level.upper()), **server_options
        )
        return
    app = create_engine_app(settings, reconcile_daily=settings.engine.reconcile_at is not None)
    log.info("engine listening on http://%s:%d (profile %s)", host, port, settings.home)
    serve_frozen(app, host=host, port=port, **server_options)


@engine.command("activation-code")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--store", "store_id", default=None, help="Only this store may use the code.")
@click.option("--terminal", "terminal_id", default=None, help="Only this terminal may use the code.")
@click.option(
    "--ttl",
    "ttl_min",
    type=click.IntRange(1, 7 * 24 * 60),
    default=60,
    show_default=True,
    help="Minutes until the code expires.",
)
def activation_code(config: Path | None, store_id: str | None, terminal_id: str | None, ttl_min: int) -> None:
    """Print a one-time code a new terminal uses to activate (stored hashed in the ledger)."""
    require("engine", what="pos engine activation-code")
    from pos_app.engine.store.terminals import TerminalRegistry

    settings = _settings(config)
    registry = TerminalRegistry.open(settings.database_url, settings.path(settings.engine.ledger_key_file))
    try:
        code = registry.new_activation_code(ttl=timedelta(minutes=ttl_min), store_id=store_id, terminal_id=terminal_id)
    finally:
        registry.close()
    click.echo(code)


@engine.group()
def manager() -> None:
    """The managers the engine knows per store: their PIN approves refunds and voids at the tills."""


_CONFIG = click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None)
_STORE = click.option("--store", "store_id", required=True, help="Store code, as in the tills' [terminal] store_id.")
_NAME = click.option("--name", "name", required=True, help="The manager's name, as the tills know it.")


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise click.UsageError("--pin-stdin: no PIN on standard input.")
        return line.strip()
    pin: str = click.prompt("PIN", hide_input=True, confirmation_prompt=True)
    return pin


@manager.command("add")
@_CONFIG
@_STORE
@_NAME
@click.option("--pin-stdin", "pin_stdin", is_flag=True, help="Read the PIN from standard input (else asked twice).")
def manager_add(config: Path | None, store_id: str, name: str, pin_stdin: bool) -> None:
    """Add a manager to a store, or give an existing one a new PIN (enabled, lockout cleared).

    Use the same name and PIN as on the tills: a till sends the PIN its manager typed, and the
    engine checks it again here.
    """
    require("engine", what="pos engine manager add")
    from pos_app.engine.store import managers
    from pos_app.engine.store.db import open_ledger

    pin = managers.check_pin_format(_read_pin(pin_stdin))
    ledger = open_ledger(_settings(config).database_url)
    try:
        with Session(ledger) as session:
            managers.put_manager(
                session, store_id=store_id, name=name, pin_hash=managers.hash_pin(pin), now=datetime.now(UTC)
            )
            session.commit()
    finally:
        ledger.dispose()
    click.echo(f"{name} approves refunds and voids at store {store_id}.")


@manager.command("disable")
@_CONFIG
@_STORE
@_NAME
def manager_disable(config: Path | None, store_id: str, name: str) -> None:
    """Stop a manager's approvals at a store (`add` enables them again, with a new PIN)."""
    require("engine", what="pos engine manager disable")
    from pos_app.engine.store import managers
    from pos_app.engine.store.db import open_ledger

    ledger = open_ledger(_settings(config).database_url)
    try:
        with Session(ledger) as session:
            found = managers.disable_manager(session, store_id=store_id, name=name, now=datetime.now(UTC))
            session.commit()
    finally:
        ledger.dispose()
    if not found:
        raise ConfigError(f"Store {store_id} has no manager named {name!r} — check `pos engine manager list`.")
    click.echo(f"{name} no longer approves refunds or voids at store {store_id}.")


@manager.command("list")
@_CONFIG
@_STORE
def manager_list(config: Path | None, store_id: str) -> None:
    """The store's managers, and whether each may approve now."""
    require("engine", what="pos engine manager list")
    from pos_app.engine.store import managers
    from pos_app.engine.store.db import open_ledger

    ledger = open_ledger(_settings(config).database_url)
    try:
        with Session(ledger) as session:
            rows = managers.store_managers(session, store_id)
    finally:
        ledger.dispose()
    now = datetime.now(UTC)
    for row in rows:
        status = "disabled" if row.disabled else "active"
        if row.locked_until is not None and row.locked_until > now:
            status += f", locked until {row.locked_until.astimezone():%H:%M:%S} after wrong PINs"
        click.echo(f"{row.name}\t{status}")
    if not rows:
        click.echo(f"Store {store_id} has no managers: refunds and voids there are refused.")
