"""The TUI's logic modules, the scan module and the till use cases load without Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "pos_app.tui.logic.wedge",
    "pos_app.tui.logic.qr",
    "pos_app.tui.logic.keypad",
    "pos_app.tui.logic.cart",
    "pos_app.tui.logic.receipt",
    "pos_app.tui.logic.errors",
    "pos_app.tui.till",
    "pos_app.scan",
    "pos_app.launcher",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_does_not_import_textual(module: str):
    code = f"import sys, {module}; assert 'textual' not in sys.modules, 'textual imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_tui_never_imports_the_sandbox_or_keys():
    code = (
        "import sys, pos_app.tui.app, pos_app.tui.screens.checkout, pos_app.tui.screens.qr, "
        "pos_app.tui.screens.scan, pos_app.tui.screens.sale;"
        "bad=[m for m in sys.modules if m.startswith(('pos_app.sandbox','pos_app.engine.crypto',"
        "'pos_app.engine.providers','pos_app.engine.payments','pos_app.engine.server'))];"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
