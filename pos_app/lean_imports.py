"""Optional imports that libraries make on their own and no `pos` process uses, skipped at start.

Each costs every process that imports the library (the till, the engine, the sandbox), measured
with ``python -X importtime`` and CPU time (``tests/bench/NOTES.md``):

- ``httpx._main``: httpx imports its command-line client (pygments' lexers, rich, click) whenever
  those are installed, and textual brings them — about 100 ms of the engine's CPU at start.
  A module set to None in ``sys.modules`` makes its import raise ImportError, which httpx catches
  and goes without.
- ``trio``, when httpcore asks for it: httpcore imports it whenever it is installed (the test tools
  bring it), for programs that run under trio — about 50 ms of each process's CPU; every `pos`
  process runs asyncio. Only httpcore's import is refused (:class:`TrioNotForHttpcore`): marking
  trio absent for everyone leaves ``"trio" in sys.modules`` true, and tenacity's async sleep then
  imports it and fails — every retry with a wait broke (`pos reconcile` against an unreachable
  gateway).

Called by the `pos` entry point only (never on import: a test session that drives a browser may
need trio).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import FrameType, ModuleType

SKIPPED = ("httpx._main",)
#: The package whose modules import trio when it is installed (``try: import trio``: its locks, its
#: trio backend), and the module they are refused.
HTTPCORE = "httpcore"
TRIO = "trio"


class TrioNotForHttpcore(MetaPathFinder):
    """Refuses ``import trio`` to httpcore alone (see the module docstring); anyone else finds it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == TRIO and _importer().partition(".")[0] == HTTPCORE:
            raise ModuleNotFoundError(f"No module named {TRIO!r} (not for httpcore in pos)", name=TRIO)
        return None  # the other finders look as usual


def _importer() -> str:
    """The module whose code is running the import now: the first frame outside importlib's machinery."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__"))
        if name != __name__ and not name.startswith("importlib"):
            return name
        frame = frame.f_back
    return ""


def skip_unused_imports() -> None:
    """Mark the modules in SKIPPED as absent, unless something already imported them; refuse trio
    to httpcore."""
    for name in SKIPPED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    if not any(isinstance(finder, TrioNotForHttpcore) for finder in sys.meta_path):
        sys.meta_path.insert(0, TrioNotForHttpcore())
