"""The import rules of DESIGN.md §3, checked four ways: import-linter's contracts, a fresh interpreter
that imports every headless module and must not load textual, no import cycle in the till's packages
(grimp), and mypy --strict on the pure core.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import pos_app

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Modules that run something when imported (Alembic environments, migrations, `python -m`), or that
# belong to the user interface (the TUI and the commands that start it).
NOT_IMPORTED = (".migrations", "__main__", "pos_app.tui", "pos_app.commands")


def headless_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(pos_app.__path__, "pos_app."):
        if not any(part in module.name for part in NOT_IMPORTED):
            names.append(module.name)
    return sorted(names)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_walk_finds_the_headless_core() -> None:
    names = headless_modules()
    for required in (
        "pos_app.domain.money",
        "pos_app.domain.states",
        "pos_app.journal.sales",
        "pos_app.journal.verify",
        "pos_app.config",
        "pos_app.engine.crypto.rsa",
        "pos_app.api.schemas",
        "pos_app.sandbox.demo",
        "pos_app.terminal.till",
        "pos_app.terminal.sales",
        "pos_app.terminal.settling",
        "pos_app.receipts.text",
    ):
        assert required in names


def test_headless_modules_never_load_textual() -> None:
    modules = headless_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(len(loaded), loaded[:3])\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0 "), result.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The import cycles among ``modules``: strongly connected groups of more than one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_in_the_till() -> None:
    """Screens never import the app (which imports them); the core, the TUI and receipts form no cycle."""
    graph = grimp.build_graph("pos_app")
    till = {m for m in graph.modules if m.startswith(("pos_app.terminal", "pos_app.tui", "pos_app.receipts"))}
    assert "pos_app.tui.app" in till and "pos_app.terminal.till" in till
    assert _cycles(graph, till) == []
    assert not graph.find_downstream_modules("pos_app.tui.app") - {"pos_app.commands.terminal"}


def test_screens_reach_the_journal_only_through_the_terminal_core() -> None:
    """No TUI module imports the journal, the engine (its reconciliation included) or the sandbox
    itself: the headless core (pos_app.terminal) opens the journal and owns every transaction."""
    graph = grimp.build_graph("pos_app")
    forbidden = ("pos_app.journal", "pos_app.engine", "pos_app.sandbox")
    direct = {
        (module, imported)
        for module in graph.modules
        if module.startswith("pos_app.tui")
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith(forbidden)
    }
    assert direct == set()


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("pos_app.domain", ("pos_app.journal", "pos_app.config", "pos_app.engine", "sqlalchemy", "pydantic")),
        ("pos_app.journal", ("pos_app.config", "pos_app.engine", "pos_app.sync", "pos_app.tui", "httpx")),
    ],
)
def test_the_core_stays_small(package: str, forbidden: tuple[str, ...]) -> None:
    """domain is standard library only; the journal never reads the configuration (the caller passes a path)."""
    submodules = [m.name for m in pkgutil.walk_packages(__import__(package, fromlist=["_"]).__path__, package + ".")]
    imports = [name for name in [package, *submodules] if ".migrations" not in name]
    code = (
        "import importlib, sys\n"
        f"for name in {imports!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = run_python("import json\n" + code)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    for name in forbidden:
        assert not any(m == name or m.startswith(name + ".") for m in loaded), f"{package} loads {name}"


def test_mypy_strict_on_domain_and_journal() -> None:
    """Part of the foundation's promise: the pure core and the journal type-check under --strict."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "pos_app/domain", "pos_app/journal"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
