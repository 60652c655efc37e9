"""`pos doctor` on the embedded sandbox profile with the till closed: the engine that `pos` starts is
not running, which is a note (WARN), not an error; on a profile with its own engine it stays an error."""

from __future__ import annotations

from pos_app.config import Settings
from pos_app.doctor import Level, check_engine_reachable
from pos_app.sandbox.demo import free_loopback_port


def test_engine_not_running_on_the_embedded_profile_is_a_note(demo_settings: Settings) -> None:
    demo_settings.terminal.engine_url = f"http://127.0.0.1:{free_loopback_port()}"
    assert demo_settings.terminal.sandbox
    [finding] = check_engine_reachable(demo_settings)
    assert finding.level is Level.WARN
    assert "not running (it is started by `pos`)" in finding.message and "`pos` starts it" in finding.fix


def test_engine_unreachable_on_a_configured_profile_is_an_error(demo_settings: Settings) -> None:
    demo_settings.terminal.engine_url = f"http://127.0.0.1:{free_loopback_port()}"
    demo_settings.terminal.sandbox = False
    [finding] = check_engine_reachable(demo_settings)
    assert finding.level is Level.ERROR and "unreachable" in finding.message
