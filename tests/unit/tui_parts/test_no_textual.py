"""The terminal core, the QR drawing's matrix, the receipt text, the scan module and the launcher load
without Textual; the TUI never loads the engine's private parts or the sandbox."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import pos_app.terminal

MODULES = [
    *sorted(m.name for m in pkgutil.walk_packages(pos_app.terminal.__path__, "pos_app.terminal.")),
    "pos_app.tui.widgets.qr_matrix",
    "pos_app.receipts.text",
    "pos_app.scan",
    "pos_app.launcher",
]


def test_the_terminal_core_is_all_there() -> None:
    for name in ("till", "sales", "settling", "refunds", "cash", "shifts", "reports", "history", "cart", "wedge"):
        assert f"pos_app.terminal.{name}" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_module_does_not_import_textual(module: str):
    code = f"import sys, {module}; assert 'textual' not in sys.modules, 'textual imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_till_does_not_load_the_printer_driver():
    """python-escpos is an optional extra: loaded only when a receipt is printed."""
    code = "import sys, pos_app.terminal.till, pos_app.tui.app; assert 'escpos' not in sys.modules, 'escpos imported'"
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
