"""`pos doctor` on the embedded sandbox profile with the till closed: the engine that `pos` starts is
not running, which is a NOTE (not a warning, not an error; the summary counts it apart and the exit
status stays 0); on a profile with its own engine it stays an error."""

from __future__ import annotations

import os
import subprocess
import sys

from pos_app.config import Settings
from pos_app.doctor import Level, check_engine_reachable
from pos_app.sandbox.demo import DemoProfile, free_loopback_port


def test_engine_not_running_on_the_embedded_profile_is_a_note(demo_settings: Settings) -> None:
    demo_settings.terminal.engine_url = f"http://127.0.0.1:{free_loopback_port()}"
    assert demo_settings.terminal.sandbox
    [finding] = check_engine_reachable(demo_settings)
    assert finding.level is Level.NOTE
    assert "not running (it is started by `pos`)" in finding.message and "`pos` starts it" in finding.fix


def test_engine_unreachable_on_a_configured_profile_is_an_error(demo_settings: Settings) -> None:
    demo_settings.terminal.engine_url = f"http://127.0.0.1:{free_loopback_port()}"
    demo_settings.terminal.sandbox = False
    [finding] = check_engine_reachable(demo_settings)
    assert finding.level is Level.ERROR and "unreachable" in finding.message


def test_the_summary_counts_the_note(demo_profile: DemoProfile) -> None:
    env = {**os.environ, "POS_HOME": str(demo_profile.home)}
    result = subprocess.run(
        [sys.executable, "-m", "pos_app", "doctor"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "note  engine" in result.stdout and "ERROR engine" not in result.stdout
    assert "1 note(s)." in result.stdout
