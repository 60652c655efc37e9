"""Optional imports that libraries make on their own and no `pos` process uses, skipped at start.

Each costs every process that imports the library (the till, the engine, the sandbox), measured
with ``python -X importtime`` and CPU time (``tests/bench/NOTES.md``):

- ``httpx._main``: httpx imports its command-line client (pygments' lexers, rich, click) whenever
  those are installed, and textual brings them — about 100 ms of the engine's CPU at start.

Not ``trio`` (httpcore imports it when installed, ~75 ms): marking it absent leaves ``"trio" in
sys.modules`` true, and tenacity's async sleep then imports it and fails — every retry with a wait
broke (`pos reconcile` against an unreachable gateway). It is only installed with the test tools.

A module set to None in ``sys.modules`` makes its import raise ImportError, which httpx
catches and goes without. Called by the `pos` entry point only (never on import: a test session that
drives a browser may need trio).
"""

from __future__ import annotations

import sys

SKIPPED = ("httpx._main",)


def skip_unused_imports() -> None:
    """Mark the modules in SKIPPED as absent, unless something already imported them."""
    for name in SKIPPED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
