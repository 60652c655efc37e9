"""`pos doctor` on secrets at rest: ledger and journal modes, the ledger key file, no clear terminal key."""

from __future__ import annotations

import base64
import secrets
import sqlite3
from datetime import timedelta
from pathlib import Path

from pos_app.config import Settings, load_settings
from pos_app.doctor import ENGINE_CHECKS, TERMINAL_CHECKS, Finding, Level, run_checks
from pos_app.engine.startup import prepare_ledger
from pos_app.engine.store.db import open_ledger
from pos_app.journal.db import open_journal
from pos_app.sandbox.demo import DemoProfile


def _started(profile: DemoProfile) -> Settings:
    """The profile after the engine's first start, with one activated terminal."""
    settings = load_settings(profile.config)
    ledger = open_ledger(settings.database_url)
    registry = prepare_ledger(ledger, settings)
    code = registry.new_activation_code(ttl=timedelta(minutes=5))
    registry.activate(code=code, store_id="S00001", terminal_id="T001", name="Till 1")
    ledger.dispose()
    return settings


def _secrets(settings: Settings) -> list[Finding]:
    return [f for f in run_checks(settings, ENGINE_CHECKS) if f.check == "secrets"]


def _errors(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings if f.level is Level.ERROR]


def _ledger(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def test_a_started_demo_profile_has_its_secrets_in_order(demo_profile: DemoProfile) -> None:
    findings = _secrets(_started(demo_profile))
    assert _errors(findings) == []
    assert {f.message for f in findings} >= {
        "engine ledger files owner-only (0600)",
        "ledger key file present, owner only",
        "no terminal key in clear in the ledger",
    }


def test_a_ledger_readable_by_others_is_named(demo_profile: DemoProfile) -> None:
    settings = _started(demo_profile)
    _ledger(settings).chmod(0o644)
    errors = _errors(_secrets(settings))
    assert len(errors) == 1 and str(_ledger(settings)) in errors[0] and "other users" in errors[0]


def test_a_missing_or_open_ledger_key_file_is_named(demo_profile: DemoProfile) -> None:
    settings = _started(demo_profile)
    key_file = settings.path(settings.engine.ledger_key_file)
    key_file.chmod(0o644)
    assert any("readable by others" in e and str(key_file) in e for e in _errors(_secrets(settings)))
    key_file.unlink()
    assert any("does not exist" in e and str(key_file) in e for e in _errors(_secrets(settings)))


def test_a_clear_terminal_key_left_in_the_ledger_is_an_error(demo_profile: DemoProfile) -> None:
    settings = _started(demo_profile)
    with sqlite3.connect(_ledger(settings)) as db:
        db.execute(
            "INSERT INTO terminals (terminal_id, store_id, name, key_b64, activated_at, disabled)"
            " VALUES ('T009', 'S00001', 'Old till', ?, '2026-11-20 09:00:00.000000', 0)",
            (base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),),
        )
    errors = _errors(_secrets(settings))
    assert len(errors) == 1 and "1 terminal key(s) are stored in clear" in errors[0]


def test_a_journal_readable_by_others_is_named(demo_profile: DemoProfile) -> None:
    settings = load_settings(demo_profile.config)
    journal = settings.path(settings.terminal.journal_path)
    open_journal(journal).dispose()
    findings = [f for f in run_checks(settings, TERMINAL_CHECKS) if f.check == "journal files"]
    assert _errors(findings) == []
    journal.chmod(0o640)
    findings = [f for f in run_checks(settings, TERMINAL_CHECKS) if f.check == "journal files"]
    assert len(_errors(findings)) == 1 and str(journal) in _errors(findings)[0]
