"""`pos doctor` on the demo profile and on broken copies of it: each problem is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pos_app.config import load_settings
from pos_app.doctor import ENGINE_CHECKS, Level, check_terminal_activated, run_checks
from pos_app.sandbox.demo import DemoProfile


def _errors(profile: DemoProfile) -> list[str]:
    findings = run_checks(load_settings(profile.config), ENGINE_CHECKS)
    return [f.message for f in findings if f.level is Level.ERROR]


def test_demo_profile_engine_checks_pass(demo_profile: DemoProfile) -> None:
    assert _errors(demo_profile) == []


def test_key_readable_by_others_is_named(demo_profile: DemoProfile) -> None:
    key = demo_profile.home / "keys" / "wechat_merchant_key.pem"
    key.chmod(0o644)
    errors = _errors(demo_profile)
    assert len(errors) == 1
    assert str(key) in errors[0] and "readable by others" in errors[0]


def test_short_apiv3_key_is_named(demo_profile: DemoProfile) -> None:
    (demo_profile.home / "keys" / "wechat_apiv3.key").write_text("tooshort")
    errors = _errors(demo_profile)
    assert any("wechat_apiv3.key" in e and "32" in e for e in errors)


def test_garbage_private_key_is_named_without_content(demo_profile: DemoProfile) -> None:
    key = demo_profile.home / "keys" / "alipay_app_key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n")
    errors = _errors(demo_profile)
    assert len(errors) == 1 and "alipay_app_key.pem" in errors[0] and "not-a-key" not in errors[0]


def test_missing_mchid_is_named(demo_profile: DemoProfile) -> None:
    text = demo_profile.config.read_text().replace('mchid = "1900000109"', 'mchid = ""')
    demo_profile.config.write_text(text)
    assert any("[wechatpay] mchid" in e for e in _errors(demo_profile))


def test_unactivated_terminal_is_an_error(demo_profile: DemoProfile) -> None:
    findings = list(check_terminal_activated(load_settings(demo_profile.config)))
    assert [f.level for f in findings] == [Level.ERROR]
    assert "terminal.key" in findings[0].message


@pytest.mark.parametrize("role", ["--engine", "--terminal"])
def test_cli_exit_codes(demo_profile: DemoProfile, role: str) -> None:
    env = {**os.environ, "POS_HOME": str(demo_profile.home)}
    result = subprocess.run(
        [sys.executable, "-m", "pos_app", "doctor", role], env=env, capture_output=True, text=True, timeout=60
    )
    # The engine side of a fresh demo profile is healthy; the terminal side has no engine running.
    if role == "--engine":
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 error(s)" in result.stdout
    else:
        assert result.returncode == 1
        assert "unreachable" in result.stdout and "terminal.key" in result.stdout


def test_cli_missing_profile_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "POS_HOME": str(tmp_path / "nowhere")}
    result = subprocess.run([sys.executable, "-m", "pos_app", "doctor"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "pos.toml" in result.stderr


def test_database_checks_current_and_old_schema(demo_profile: DemoProfile) -> None:
    from pos_app.doctor import check_database
    from pos_app.engine.store.db import make_engine, migrate, open_ledger

    settings = load_settings(demo_profile.config)
    old = make_engine(settings.database_url)
    migrate(old, "0001")
    old.dispose()
    findings = list(check_database(settings))
    assert [f.level for f in findings] == [Level.ERROR] and "schema 0001" in findings[0].message
    open_ledger(settings.database_url).dispose()
    findings = list(check_database(settings))
    assert [f.level for f in findings] == [Level.OK] and "(current)" in findings[0].message
