"""Issue 18 §2 through the real app and real child processes: the sign-in screen is drawn while the
embedded default's engine and sandbox start; a cashier signs in meanwhile; the status bar says the
engine is starting, then online (at once, not at the health loop's next look); a child that fails
to start is worded in the status bar and in F5, and is not restarted.

The engine's start is held back by a gate: the children's interpreter is a small script that, for
the engine, waits for a file before it runs the real one, so "still starting" lasts exactly as long
as the test needs."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos_app.api.client import EngineClient
from pos_app.commands.terminal import seed_demo_staff
from pos_app.config import Settings, load_settings
from pos_app.launcher import Supervisor
from pos_app.sandbox.demo import init_demo_profile
from pos_app.terminal.background import ChildState, StartState
from pos_app.tui.app import make_app
from pos_app.tui.widgets.status_bar import StatusBar
from tests.tui.support import screen_text, wait_until

SIZE = (80, 24)
#: Far longer than any wait below: the app must go online because the engine answered, not because
#: its periodic health check came round.
SLOW_HEALTH_S = 120.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(init_demo_profile(tmp_path / "profile").config)
    seed_demo_staff(settings)  # the demo cashier and manager, as `pos` adds them
    return settings


def gated_python(tmp_path: Path) -> tuple[Path, Path]:
    """(interpreter script, gate file): the script runs this Python, for `engine …` once the gate
    file exists."""
    gate = tmp_path / "gate"
    script = tmp_path / "gated-python"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *" engine "*) while [ ! -e "{gate}" ]; do sleep 0.05; done ;; esac\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, gate


@pytest.fixture
def gated(settings: Settings, tmp_path: Path) -> Iterator[tuple[Supervisor, Path]]:
    script, gate = gated_python(tmp_path)
    supervisor = Supervisor(settings.home, python=str(script))
    supervisor.launch("engine", ["engine", "serve"], settings.terminal.engine_url + "/healthz")
    try:
        yield supervisor, gate
    finally:
        supervisor.stop_all()


def app_for(settings: Settings, supervisor: Supervisor):
    # Not activated: sign-in is local, and the engine's health check is not signed.
    client = EngineClient(settings.terminal.engine_url, settings.terminal.terminal_id, b"k" * 32)
    return make_app(
        settings,
        engine_client=client,
        watchdog=supervisor.problem,
        progress=supervisor.progress,
        health_interval_s=SLOW_HEALTH_S,
    )


def status_line(app) -> str:
    return StatusBar.status_text(app, SIZE[0]).plain


async def test_sign_in_while_the_engine_starts_then_online(settings, gated):
    supervisor, gate = gated
    app = app_for(settings, supervisor)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LoginScreen", what="sign-in")
        assert supervisor.progress().state("engine") is StartState.STARTING
        await wait_until(pilot, lambda: "Starting the payment engine" in screen_text(app), what="starting shown")
        assert "OFFLINE" not in status_line(app)  # starting is not away
        assert status_line(app).count("Starting the payment engine") == 1

        await pilot.press(*"1234", "enter")  # the demo cashier, by PIN alone
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
        assert app.till.cashier == "Demo Cashier"
        assert "Starting the payment engine" in screen_text(app)  # still starting, on every screen

        gate.touch()  # the engine may start now
        await wait_until(pilot, lambda: app.engine_online is True, timeout=60, what="engine online")
        await wait_until(pilot, lambda: "engine online" in screen_text(app), what="online shown")
        assert "Starting" not in status_line(app)
        assert supervisor.progress().done and app.starting is None
        assert not any("back online" in n.message for n in app._notifications)  # it was never away


async def test_sandbox_ready_is_shown_while_the_engine_still_starts(settings, tmp_path):
    script, gate = gated_python(tmp_path)
    supervisor = Supervisor(settings.home, python=str(script))
    try:
        sandbox = supervisor.launch("sandbox", ["sandbox", "serve"], f"http://{settings.sandbox.listen}/healthz")
        supervisor.launch("engine", ["engine", "serve"], settings.terminal.engine_url + "/healthz")
        app = app_for(settings, supervisor)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: sandbox.start_state() is StartState.READY, timeout=60, what="sandbox up")
            await wait_until(pilot, lambda: "Sandbox ready" in screen_text(app), what="sandbox ready shown")
            line = status_line(app)
            assert "Starting the payment engine" in line and "Starting the sandbox" not in line

            gate.touch()
            await wait_until(pilot, lambda: app.engine_online is True, timeout=60, what="engine online")
            await wait_until(pilot, lambda: "Sandbox ready" not in screen_text(app), what="progress cleared")
            assert supervisor.progress().done and "engine online" in status_line(app)
    finally:
        supervisor.stop_all()


async def test_a_child_that_does_not_start_is_worded(settings, tmp_path):
    supervisor = Supervisor(settings.home)
    # A profile that is not there: `pos engine serve` stops at once with a one-line reason.
    missing = tmp_path / "missing" / "pos.toml"
    engine = supervisor.launch("engine", ["engine", "serve", "--config", str(missing)], settings.terminal.engine_url)
    try:
        app = app_for(settings, supervisor)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "engine did not start — F5" in screen_text(app), timeout=60, what="worded")
            line = StatusBar.status_text(app, SIZE[0] - 2)
            assert "engine did not start — F5" in line.plain and line.cell_len <= SIZE[0] - 2
            assert "Starting the payment engine" not in line.plain
            # The status bar and the notification come from the same report, but not in the same frame.
            await wait_until(
                pilot,
                lambda: any("did not start" in n.message and "Cash sales" in n.message for n in app._notifications),
                what="the notification saying cash sales go on",
            )

            await pilot.press("f5")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "BackgroundModal", what="detail")
            detail = screen_text(app)
            assert "stopped while starting (exit status 1)" in detail
            assert str(missing) in detail  # the last lines of its log: what it said
            assert "What to do" in detail and "cash sales still work" in detail
            assert str(settings.home / "logs" / "engine.log") in detail
            await pilot.press("escape")

            # The till works for cash meanwhile: sign in.
            await pilot.press(*"1234", "enter")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")

        problem = supervisor.problem()
        assert problem is not None and problem.state is ChildState.NOT_STARTED
        first = engine.process
        supervisor.check(engine)
        assert engine.process is first  # not restarted: it would only fail again
    finally:
        supervisor.stop_all()
