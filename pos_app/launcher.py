"""Child-process supervision for the embedded default (`pos` on a fresh machine).

The sandbox and the engine run as child processes of the terminal command (`python -m pos_app …`
with ``POS_HOME`` set to the demo profile). Each child's output goes to ``HOME/logs/NAME.log``. The
supervisor waits for their health checks, reports a child that has died (the TUI shows it in the
status bar), and stops them — by their own process ids — when the terminal quits.

Not part of ``pos_app.tui``: the TUI must not know about the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pos_app.domain.errors import PosError


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if the terminal process dies without stopping it (kill -9, a
    closed terminal window), so a crashed till never leaves an engine holding its port."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class ChildFailed(PosError):
    """A child process did not start or did not become healthy."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    health_url: str

    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text("utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])


@dataclass
class Supervisor:
    home: Path
    python: str = sys.executable
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["POS_HOME"] = str(self.home)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def start(self, name: str, args: list[str], health_url: str) -> Child:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [self.python, "-m", "pos_app", *args],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl+C in the terminal reaches the TUI, which stops the children in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        child = Child(name, process, log_path, health_url)
        self.children.append(child)
        return child

    def wait_healthy(self, child: Child, *, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = child.exit_code()
            if code is not None:
                raise ChildFailed(f"The {child.name} stopped while starting (exit {code}): {child.log_tail(3)}")
            try:
                if httpx.get(child.health_url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ChildFailed(f"The {child.name} did not answer {child.health_url} within {timeout_s:.0f} s.")

    def problem(self) -> str | None:
        """One line about the first child that has died, else None (the TUI's watchdog)."""
        if self.stopping:
            return None
        for child in self.children:
            code = child.exit_code()
            if code is not None:
                return f"{child.name} stopped (exit {code}) — see {child.log_path}"
        return None

    def stop_all(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM each child (newest first), then SIGKILL whatever is still running."""
        self.stopping = True
        for child in reversed(self.children):
            if child.exit_code() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                child.process.wait(2.0)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def run_pos(home: Path, args: list[str], *, timeout_s: float = 60.0) -> str:
    """Run one `pos` subcommand for ``home`` and return its stdout (ChildFailed with its stderr)."""
    env = dict(os.environ, POS_HOME=str(home))
    result = subprocess.run(
        [sys.executable, "-m", "pos_app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise ChildFailed(f"`pos {' '.join(args)}` failed: {result.stderr.strip()[-300:]}")
    return result.stdout
