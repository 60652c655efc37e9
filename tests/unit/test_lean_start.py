"""What keeps a `pos` process's start lean without changing what it does: the collector paused while a
long-running process starts (pos_app.process_gc), trio refused to httpcore alone (pos_app.lean_imports),
one TLS context for the engine's gateway clients, a niced child's session niced too (pos_app.launcher),
and the daily reconciliation started after the engine's start (pos_app.engine.scheduler)."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import subprocess
import sys
import time
from datetime import time as day_time
from pathlib import Path

import pytest

from pos_app.cli import starts_long_running
from pos_app.config import Settings
from pos_app.engine.providers import build_providers
from pos_app.engine.providers.web_pay import build_web_pay
from pos_app.engine.scheduler import reconcile_daily_after_start
from pos_app.launcher import _child_setup


def run(code: str) -> list[str]:
    """``code`` in a fresh interpreter (its imports and collector are its own); its printed lines."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()


@pytest.mark.parametrize(
    ("args", "long_running"),
    [
        ([], True),
        (["terminal"], True),
        (["terminal", "--profile", "shop"], True),
        (["engine", "serve", "--config", "/etc/pos.toml"], True),
        (["sandbox", "serve"], True),
        (["console", "serve"], True),
        (["--help"], False),
        (["engine", "activation-code"], False),
        (["report", "daily"], False),
        (["reconcile", "--config", "x"], False),
        (["engine"], False),
    ],
)
def test_the_entry_point_pauses_the_collector_only_for_long_running_starts(args: list[str], long_running: bool) -> None:
    assert starts_long_running(args) is long_running


def test_the_pause_lasts_until_the_start_is_frozen() -> None:
    out = run(
        "import gc; from pos_app import process_gc as p;"
        "p.pause_during_start(); print(gc.isenabled(), p.paused());"
        "p.freeze_startup(); print(gc.isenabled(), p.paused(), gc.get_freeze_count() > 1000)"
    )
    assert out == ["False True", "True False True"]


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    out = run(
        "import gc; from pos_app import process_gc as p;"
        "gc.disable(); p.pause_during_start(); p.freeze_startup(); print(gc.isenabled(), p.paused())"
    )
    assert out == ["False False"]


def test_a_server_that_fails_to_start_turns_the_collector_back_on() -> None:
    out = run(
        "import gc, socket; from pos_app import process_gc as p;\n"
        "taken = socket.socket(); taken.bind(('127.0.0.1', 0)); taken.listen()\n"
        "async def app(scope, receive, send): pass\n"
        "p.pause_during_start()\n"
        "try:\n"
        "    p.serve(app, host='127.0.0.1', port=taken.getsockname()[1], lifespan='off', log_level='critical')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(gc.isenabled())"
    )
    assert out == ["True"]


@pytest.mark.skipif(importlib.util.find_spec("trio") is None, reason="trio is not installed: nothing to refuse")
def test_httpcore_goes_without_trio_and_everyone_else_finds_it() -> None:
    out = run(
        "import sys; from pos_app.lean_imports import skip_unused_imports; skip_unused_imports();"
        "import httpx; httpx.AsyncClient(); import httpcore;"
        "print('trio' in sys.modules, httpcore._synchronization.trio);"
        "import trio; print(trio.sleep is not None, 'trio' in sys.modules)"
    )
    assert out == ["False None", "True True"]


def test_the_gateway_clients_share_one_tls_context(demo_settings: Settings) -> None:
    providers = build_providers(demo_settings)
    web = build_web_pay(demo_settings, providers)
    clients = [provider._http for provider in providers.values()]  # type: ignore[attr-defined]
    assert web.wechat_oauth is not None, web.problem
    clients.append(web.wechat_oauth._http)
    contexts = {id(client._transport._pool._ssl_context) for client in clients}
    assert len(clients) == 3 and len(contexts) == 1
    context = clients[0]._transport._pool._ssl_context
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname  # verification as before
    assert context.get_ca_certs()  # certifi's roots loaded, as httpx's own default does


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no scheduler autogroups on this system")
def test_a_niced_child_lowers_its_sessions_priority_too() -> None:
    child = subprocess.run(
        ["cat", "/proc/self/autogroup"],
        start_new_session=True,  # as the supervisor starts its children: a session (and autogroup) of its own
        preexec_fn=functools.partial(_child_setup, 10),
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip().endswith("nice 10")


async def test_the_daily_reconciliation_starts_after_the_start(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pos_app.engine.reconcile import runner

    started: list[float] = []

    async def scheduler(settings: Settings, *, run_at: day_time, stop: asyncio.Event) -> None:
        started.append(time.monotonic())
        await stop.wait()

    monkeypatch.setattr(runner, "run_scheduler", scheduler)
    stop = asyncio.Event()
    begun = time.monotonic()
    task = asyncio.create_task(reconcile_daily_after_start(demo_settings, day_time(10), stop, after_s=0.2))
    deadline = begun + 10
    while not started and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert started and started[0] - begun >= 0.2
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_stop_before_the_reconciliations_start_ends_it_at_once(demo_settings: Settings) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(reconcile_daily_after_start(demo_settings, day_time(10), stop, after_s=60))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert not (demo_settings.home / "reconcile").exists()
