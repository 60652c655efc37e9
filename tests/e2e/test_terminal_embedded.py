"""The embedded default, end to end: `pos` with no configuration makes a demo profile, starts the
sandbox and the engine as child processes (then the managers' console, which F2 points at),
activates the terminal (key file 0600), seeds the demo staff, and the TUI takes a QR payment; a
crashed child shows in the status bar and is started again; quitting stops them."""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path

import httpx
import pytest

from pos_app.commands.terminal import prepare
from pos_app.console.accounts import list_users
from pos_app.domain.staff import DEMO_CONSOLE_PASSWORD, DEMO_CONSOLE_USER
from pos_app.domain.states import PaymentState
from pos_app.engine.store.db import open_ledger
from pos_app.terminal.background import StartState
from pos_app.tui.app import make_app
from tests.tui.support import qr_drawn, screen_text, wait_until


async def test_embedded_default_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "pos-home"
    monkeypatch.setenv("POS_HOME", str(home))
    settings, supervisor = await asyncio.to_thread(prepare, None, None)  # the CLI's own start-up path
    assert supervisor is not None
    try:
        # `prepare` returns while the children start (the till draws its sign-in meanwhile); this
        # test pays a QR at once, so it waits for them.
        for child in supervisor.children:
            await asyncio.to_thread(supervisor.wait_started, child)
        assert (home / "pos.toml").exists() and settings.terminal.sandbox
        key_file = settings.path(settings.terminal.terminal_key_file)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        # The managers' console comes after the engine (which migrates the ledger it reads).
        deadline = time.monotonic() + 60
        while supervisor.progress().state("console") is not StartState.READY:
            assert time.monotonic() < deadline, supervisor.progress()
            await asyncio.sleep(0.1)
        names = [child.name for child in supervisor.children]
        assert names == ["sandbox", "engine", "console"]
        console_url = f"http://{settings.console.listen}/"
        async with httpx.AsyncClient() as browser:
            assert (await browser.get(console_url + "healthz")).status_code == 200
            assert (await browser.get(console_url + "login")).status_code == 200
        ledger = open_ledger(settings.database_url)
        try:  # the sandbox demo's console owner, whose sign-in the F2 screen shows
            assert [(user.name, str(user.role)) for user in list_users(ledger)] == [(DEMO_CONSOLE_USER, "owner")]
        finally:
            ledger.dispose()

        app = make_app(settings, watchdog=supervisor.problem, health_interval_s=0.3, console_url=console_url)
        async with app.run_test(size=(80, 24)) as pilot:
            text = screen_text(app)
            assert "SANDBOX" in text
            await pilot.press(*"1234", "enter")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="checkout")
            assert "Demo Cashier" in screen_text(app)
            await pilot.press("f2", *"9999", "enter")
            await wait_until(pilot, lambda: console_url in screen_text(app), what="console URL on F2")
            assert f"{DEMO_CONSOLE_USER} / {DEMO_CONSOLE_PASSWORD}" in screen_text(app)
            await pilot.press("escape")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen", what="back to checkout")
            await pilot.press("6", "a")
            await wait_until(pilot, lambda: qr_drawn(app), what="QR")
            attempt = app.screen.attempt
            async with httpx.AsyncClient(base_url=f"http://{settings.sandbox.listen}") as sandbox:
                (await sandbox.post("/sandbox/pay", json={"qr": attempt.view.code_url})).raise_for_status()
            await wait_until(pilot, lambda: type(app.screen).__name__ == "ResultScreen", what="PAID")
            assert app.till.history()[0].state == PaymentState.PAID

            # A crashed engine is reported, not hidden, and started again.
            engine = supervisor.children[1]
            crashed = engine.process
            crashed.kill()
            await wait_until(pilot, lambda: "engine stopped" in screen_text(app), what="crash shown")
            await wait_until(pilot, lambda: app.engine_online is False, what="offline")
            await wait_until(pilot, lambda: app.engine_online is True, timeout=60, what="restarted")
            await wait_until(pilot, lambda: "engine is running again" in screen_text(app), what="restart shown")
            assert engine.process is not crashed and engine.exit_code() is None
    finally:
        supervisor.stop_all()
    deadline = time.monotonic() + 10
    while any(child.exit_code() is None for child in supervisor.children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(child.exit_code() is not None for child in supervisor.children)


def test_second_start_reuses_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With a configuration, `pos` uses it: the same profile, the same key, no new staff."""
    monkeypatch.setenv("POS_HOME", str(tmp_path / "home"))
    settings, supervisor = prepare(None, None)
    key = settings.path(settings.terminal.terminal_key_file).read_bytes()
    supervisor.stop_all()
    settings2, supervisor2 = prepare(None, None)
    try:
        assert settings2.terminal.engine_url == settings.terminal.engine_url
        assert settings2.path(settings2.terminal.terminal_key_file).read_bytes() == key
        app = make_app(settings2)
        assert len(app.till.history()) == 0
        assert app.till.login("9999") == "Demo Manager"
    finally:
        supervisor2.stop_all()
