"""`pos qr print` refuses what it cannot do with one clear line, before asking the engine anything:
a card format it does not write (usage error, exit 2), a till not activated yet, no printer set up
(exit 1); no file is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pos_app.sandbox.demo import DemoProfile


def pos(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "pos_app", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_an_unknown_card_format_is_a_usage_error(demo_profile: DemoProfile, tmp_path: Path) -> None:
    result = pos("qr", "print", "--out", str(tmp_path / "card.jpg"), home=demo_profile.config.parent)
    assert result.returncode == 2 and "png or .pdf" in result.stderr
    assert not (tmp_path / "card.jpg").exists()


def test_a_till_not_activated_is_told_so(demo_profile: DemoProfile, tmp_path: Path) -> None:
    result = pos("qr", "print", "--out", str(tmp_path / "card.png"), home=demo_profile.config.parent)
    assert result.returncode == 1
    assert "not activated yet" in result.stderr.splitlines()[-1]
    assert not (tmp_path / "card.png").exists()


def test_printer_alone_needs_a_printer_in_the_profile(demo_profile: DemoProfile) -> None:
    result = pos("qr", "print", "--printer", home=demo_profile.config.parent)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: No receipt printer: give --printer TARGET or set [terminal] printer in the profile."
    )
