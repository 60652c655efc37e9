"""`pos engine`: run the payment engine and make terminal activation codes."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import click

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
    """Serve the engine HTTP API on [engine] listen (loopback unless configured otherwise)."""
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
    app = create_engine_app(settings, reconcile_daily=settings.engine.reconcile_at is not None)
    log.info("engine listening on http://%s:%d (profile %s)", host, port, settings.home)
    serve_frozen(
        app,
        host=host,
        port=port,
        log_config=None,  # keep our handlers: uvicorn logs through the root logger
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )


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
    registry = TerminalRegistry.open(settings.database_url)
    try:
        code = registry.new_activation_code(ttl=timedelta(minutes=ttl_min), store_id=store_id, terminal_id=terminal_id)
    finally:
        registry.close()
    click.echo(code)
