"""`pos terminal` (and `pos` with no command): the checkout terminal.

With no configuration it is the embedded default (DESIGN.md §2): a sandbox demo profile is made in
the data directory, the sandbox and the engine start as child processes on its loopback ports, the
terminal activates itself, a demo cashier and manager are added, and the till opens in training
mode with a SANDBOX badge. Quitting stops the children. With a configuration it connects to the
configured engine (a sandbox profile whose engine is not running gets its children started too).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pos_app.config import CONFIG_NAME, Settings, default_home, load_settings
from pos_app.domain.staff import DEMO_STAFF
from pos_app.extras import missing, require
from pos_app.secret_files import write_secret_file

if TYPE_CHECKING:
    from pos_app.launcher import Child, Supervisor

#: The sandbox child's niceness (its CPU priority below the till's and the engine's).
SANDBOX_NICE = 10


def profile_home(profile: str | None) -> Path:
    base = default_home()
    return base if not profile else base / "profiles" / profile


def engine_up(url: str) -> bool:
    # The standard library's client, not httpx: a new httpx client builds a TLS context first
    # (tens of milliseconds the till's start does not need for one loopback look).
    from pos_app.launcher import healthy

    return healthy(url.rstrip("/") + "/healthz")


def activate(settings: Settings, code: str) -> None:
    from pos_app.api.client import EngineClient

    terminal = settings.terminal

    async def run() -> str:
        async with EngineClient(terminal.engine_url, terminal.terminal_id, None) as client:
            response = await client.activate(code, terminal.store_id, terminal.terminal_id, terminal.name)
            return response.terminal_key

    key = asyncio.run(run()).strip() + "\n"
    write_secret_file(settings.path(terminal.terminal_key_file), key.encode("ascii"))


def seed_demo_staff(settings: Settings) -> None:
    from pos_app.journal import add_staff, list_staff, open_journal, session_scope

    engine = open_journal(settings.path(settings.terminal.journal_path))
    try:
        with session_scope(engine) as session:
            if list_staff(session, active_only=False):
                return
            for name, pin, role in DEMO_STAFF:
                add_staff(session, name, pin, role, terminal_id=settings.terminal.terminal_id)
    finally:
        engine.dispose()


def start_embedded(settings: Settings) -> object:
    """Launch the sandbox and engine children of a sandbox profile together and return the
    Supervisor without waiting for them: the till draws its sign-in screen while they start and
    shows their progress (only a terminal not activated yet waits here, for its activation)."""
    from pos_app.launcher import Supervisor, run_pos

    home = settings.home
    supervisor = Supervisor(home)
    try:
        # The simulated gateways yield the CPU to the till and the engine while all three start on a
        # small machine (the sign-in screen and the engine come first; a wallet payment needs a
        # signed-in cashier first). See tests/bench/NOTES.md.
        supervisor.launch(
            "sandbox", ["sandbox", "serve"], f"http://{settings.sandbox.listen}/healthz", nice=SANDBOX_NICE
        )
        engine = supervisor.launch("engine", ["engine", "serve"], settings.terminal.engine_url.rstrip("/") + "/healthz")
        if not settings.path(settings.terminal.terminal_key_file).exists():
            supervisor.wait_started(engine)
            code = run_pos(home, ["engine", "activation-code"]).strip().splitlines()[-1].strip()
            activate(settings, code)
        seed_demo_staff(settings)
        _launch_console_after(supervisor, engine, settings)
    except BaseException:
        supervisor.stop_all()
        raise
    return supervisor


def _launch_console_after(supervisor: Supervisor, engine: Child, settings: Settings) -> None:
    """Start the managers' web console once the engine answers (the till goes on meanwhile).

    After the engine, not beside it: the engine creates and migrates the ledger the console reads,
    and two processes migrating one SQLite file at once would fight over it. Lowered priority like
    the sandbox's: the cashier's screen and the engine come first."""
    if missing("console"):
        return  # a till installed without the console extra: nothing to start
    supervisor.launch_after(
        engine, "console", ["console", "serve"], f"http://{settings.console.listen}/healthz", nice=SANDBOX_NICE
    )


def prepare(profile: str | None, config: Path | None) -> tuple[Settings, object | None]:
    """Load (or create) the profile and start what it needs. Returns (settings, supervisor or None)."""
    if config is not None:
        settings = load_settings(config)
    else:
        home = profile_home(profile)
        if not (home / CONFIG_NAME).exists():
            require("sandbox", "engine", what="The embedded sandbox default (no pos.toml yet)")
            from pos_app.sandbox.demo import init_demo_profile

            click.echo(f"No configuration found: creating a sandbox demo profile in {home}", err=True)
            init_demo_profile(home)
        settings = load_settings(home / CONFIG_NAME)
    supervisor = None
    if settings.terminal.sandbox and not engine_up(settings.terminal.engine_url):
        require("sandbox", "engine", what="Starting the sandbox profile's gateways and engine")
        click.echo("Starting the sandbox gateways and the payment engine…", err=True)
        supervisor = start_embedded(settings)
    elif not settings.path(settings.terminal.terminal_key_file).exists():
        code_file = settings.terminal.activation_code_file
        if code_file is not None and settings.path(code_file).exists():
            activate(settings, settings.path(code_file).read_text("utf-8").strip())
    return settings, supervisor


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@click.command()
@click.option("--profile", default=None, help="Use the named profile under the data directory.")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Use this pos.toml (its directory is the profile home).",
)
def terminal(profile: str | None, config: Path | None) -> None:
    """Open the checkout terminal (the default command)."""
    # The children first: the till's own imports (a third of its start) run while they start.
    settings, supervisor = prepare(profile, config)
    watchdog = getattr(supervisor, "problem", None)
    progress = getattr(supervisor, "progress", None)
    # A closed terminal window (SIGHUP) or a service stop (SIGTERM) still stops the children.
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, _exit_on_signal)
    try:
        from pos_app.tui.app import make_app

        # The embedded default starts the managers' console too (when installed): F2 says where it is.
        console_url = (
            f"http://{settings.console.listen}/" if supervisor is not None and not missing("console") else None
        )
        app = make_app(settings, watchdog=watchdog, progress=progress, console_url=console_url)
        app.run()
    finally:
        if supervisor is not None:
            supervisor.stop_all()  # type: ignore[attr-defined]
