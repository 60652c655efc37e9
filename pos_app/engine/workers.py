"""Several engine worker processes on one port (``[engine] workers``), with uvicorn's own supervisor.

The parent binds the port once and starts ``workers`` processes that accept on that one socket; it
restarts a worker that dies and stops them all on SIGTERM/SIGINT. Each worker is a whole engine
(its own app, ledger pool, providers, group-commit writer): everything that must be shared lives in
the ledger (see DESIGN.md §2, scale-out). Which worker runs the scheduled jobs is decided there too
(:mod:`~pos_app.engine.scheduler`).

Workers are spawned (not forked): each imports :func:`worker_app` and builds its app from the
profile named in the environment (``WORKER_CONFIG_ENV``), as ``pos engine serve`` would.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pos_app.config import Settings, load_settings

#: The profile a spawned worker serves (set by the parent before it starts the workers).
WORKER_CONFIG_ENV = "_POS_ENGINE_WORKER_CONFIG"
#: The log level a spawned worker logs at.
WORKER_LOG_LEVEL_ENV = "_POS_ENGINE_WORKER_LOG_LEVEL"
#: A worker silent this long (seconds) is taken for hung, killed and replaced by the supervisor.
WORKER_HEALTHCHECK_S = 30


def worker_app() -> Any:
    """(In a worker.) The engine app of the profile the parent named, with logging set up as the
    parent's and start-up objects frozen once its lifespan started (``process_gc``)."""
    from pos_app.engine.logging_setup import configure_logging
    from pos_app.engine.server import create_engine_app
    from pos_app.process_gc import freeze_startup

    settings = load_settings(Path(os.environ[WORKER_CONFIG_ENV]))
    log_file = settings.path(settings.engine.log_file) if settings.engine.log_file else None
    configure_logging(level=int(os.environ.get(WORKER_LOG_LEVEL_ENV, logging.INFO)), log_file=log_file)
    app = create_engine_app(settings, reconcile_daily=settings.engine.reconcile_at is not None)
    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan_then_freeze(the_app: Any) -> AsyncIterator[Any]:
        async with started(the_app) as state:
            freeze_startup()
            yield state

    app.router.lifespan_context = lifespan_then_freeze
    return app


def serve_workers(settings: Settings, config: Path, *, host: str, port: int, log_level: int, **uvicorn: Any) -> None:
    """Serve ``settings.engine.workers`` engine workers on ``host:port`` until SIGTERM/SIGINT."""
    import uvicorn as server

    from pos_app.engine.store.db import open_ledger

    # Migrate once here, before the workers race to (PostgreSQL serialises migrations; SQLite's
    # single writer would make the others wait on the first one's migration anyway).
    open_ledger(settings.database_url).dispose()
    os.environ[WORKER_CONFIG_ENV] = str(config.resolve())
    os.environ[WORKER_LOG_LEVEL_ENV] = str(log_level)
    server.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=settings.engine.workers,
        # The supervisor kills (and restarts) a worker that does not answer its ping this long. The
        # default 5 s is short enough for a busy, healthy worker on a loaded machine to miss.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        **uvicorn,
    )
