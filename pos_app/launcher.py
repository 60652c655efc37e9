"""Child-process supervision for the embedded default (`pos` on a fresh machine).

The sandbox and the engine run as child processes of the terminal command (`python -m pos_app …`
with ``POS_HOME`` set to the demo profile). Each child's output goes to ``HOME/logs/NAME.log``. The
supervisor starts them together and follows their start in a background thread while the till
draws its sign-in screen (:meth:`Supervisor.launch`, :meth:`Supervisor.progress`); a child that
stops or stays silent while starting is reported, not restarted (a bad profile or a taken port
would only fail again). After its start it restarts a child that crashed (capped exponential
backoff, see :class:`RestartPolicy`) until it answers its health check again, stops restarting one
that keeps crashing, reports what is wrong (the TUI shows it in the status bar), and stops them —
by their own process ids — when the terminal quits.

Not part of ``pos_app.tui``: the TUI must not know about the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pos_app.domain.errors import PosError
from pos_app.terminal.background import BackgroundProblem, ChildState, StartProgress, StartState

#: How long a child may take to answer its health check the first time before it counts as failed.
START_TIMEOUT_S = 30.0
#: How often the watcher looks at children still starting (each look is one loopback connection).
START_POLL_S = 0.05


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if the terminal process dies without stopping it (kill -9, a
    closed terminal window), so a crashed till never leaves an engine holding its port."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _child_setup(nice: int) -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        _die_with_parent()
    if nice:
        os.nice(nice)
        _lower_session_priority(nice)


def _lower_session_priority(nice: int) -> None:  # pragma: no cover - runs in the child (see _child_setup)
    """Linux with autogroups (``/proc/sys/kernel/sched_autogroup_enabled``, on in most desktop
    distributions): the scheduler shares the CPU between sessions first, and a process's nice value
    counts only against the other processes of its own session. Each child has a session of its own
    (``start_new_session``), so its nice value alone would change nothing: its session's is set too
    (a process may lower its own session's priority; ``/proc/self/autogroup`` is absent without them)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(nice))


class ChildFailed(PosError):
    """A child process did not start or did not become healthy."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When a crashed child is started again, and when the supervisor gives up on it."""

    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    #: This many crashes within ``window_s`` means the child will not stay up: stop restarting it.
    crash_limit: int = 5
    window_s: float = 120.0

    def delay_s(self, crashes: int) -> float:
        """The wait before restart number ``crashes`` (1, 2, 4, … seconds, capped)."""
        return min(self.max_delay_s, self.first_delay_s * 2.0 ** max(0, crashes - 1))


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    health_url: str
    args: list[str] = field(default_factory=list)
    #: Its CPU priority below the till's (``os.nice`` increment), kept across restarts.
    nice: int = 0
    #: Monotonic times of the crashes inside the policy's window.
    crashes: list[float] = field(default_factory=list)
    last_exit: int | None = None
    #: When the crashed child is due to be started again (None: not crashed, or given up).
    restart_at: float | None = None
    #: Restarted and not yet answering its health check.
    recovering: bool = False
    gave_up: bool = False
    #: Launched and not yet answering its health check for the first time (see Supervisor.launch).
    starting: bool = False
    #: Monotonic time of the launch (the start timeout counts from it).
    launched_at: float = field(default_factory=time.monotonic)
    #: Its first start failed (it is not restarted): the last lines of its log ("" if none), else None.
    start_failure: str | None = None

    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text("utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def start_state(self) -> StartState:
        if self.start_failure is not None:
            return StartState.FAILED
        return StartState.STARTING if self.starting else StartState.READY

    def problem(self) -> BackgroundProblem | None:
        if self.start_failure is not None:
            return BackgroundProblem(
                self.name, ChildState.NOT_STARTED, 0, self.last_exit, str(self.log_path), reason=self.start_failure
            )
        if self.gave_up:
            state = ChildState.GAVE_UP
        elif self.restart_at is not None or self.recovering:
            state = ChildState.RESTARTING
        else:
            return None
        return BackgroundProblem(self.name, state, len(self.crashes), self.last_exit, str(self.log_path))


@dataclass
class Supervisor:
    home: Path
    python: str = sys.executable
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    start_timeout_s: float = START_TIMEOUT_S
    children: list[Child] = field(default_factory=list)
    stopping: bool = False
    #: Held while the watcher thread changes a child, and by readers of that state.
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watcher: threading.Thread | None = None
    #: Children to launch once another has answered (see :meth:`launch_after`).
    _pending: list[tuple[Child, str, list[str], str, int]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["POS_HOME"] = str(self.home)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _spawn(self, args: list[str], log_path: Path, nice: int = 0) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [self.python, "-m", "pos_app", *args],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl+C in the terminal reaches the TUI, which stops the children in order.
                start_new_session=True,
                preexec_fn=functools.partial(_child_setup, nice),
            )

    def start(self, name: str, args: list[str], health_url: str, *, nice: int = 0) -> Child:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        child = Child(name, self._spawn(args, log_path, nice), log_path, health_url, list(args), nice=nice)
        self.children.append(child)
        return child

    def launch(self, name: str, args: list[str], health_url: str, *, nice: int = 0) -> Child:
        """Start a child and return at once: the watcher thread follows its start (:meth:`progress`)
        and, once it answered, its health (restarts). Children launched together start in parallel;
        ``nice`` lowers a child's CPU priority (``os.nice``) for its life, restarts included."""
        with self._lock:
            # A child launched late (from another thread) must not outlive a supervisor that is
            # stopping: stop_all only stops the children it holds once `stopping` is set.
            if self.stopping:
                raise ChildFailed(f"Not starting the {name}: the till is closing.")
            child = self.start(name, args, health_url, nice=nice)
            child.starting = True
        self.watch()
        return child

    def launch_after(self, after: Child, name: str, args: list[str], health_url: str, *, nice: int = 0) -> None:
        """Launch a child once ``after`` has answered its health check; never if ``after`` failed to
        start. The watcher thread launches it: a child gets SIGTERM when the *thread* that forked it
        ends (PR_SET_PDEATHSIG follows the thread), and the watcher lives until :meth:`stop_all`."""
        with self._lock:
            self._pending.append((after, name, list(args), health_url, nice))
        self.watch()

    def _launch_due(self) -> None:
        with self._lock:
            due = [item for item in self._pending if not item[0].starting]
            self._pending = [item for item in self._pending if item[0].starting]
        for after, name, args, health_url, nice in due:
            if after.start_failure is None and not self.stopping:
                with contextlib.suppress(ChildFailed):  # stopping meanwhile
                    self.launch(name, args, health_url, nice=nice)

    def progress(self) -> StartProgress:
        """Where each launched child is in its start (the till's status bar shows it)."""
        with self._lock:
            return StartProgress(tuple((child.name, child.start_state()) for child in self.children))

    def wait_started(self, child: Child, *, timeout_s: float = START_TIMEOUT_S + 5.0) -> None:
        """Block until a launched child answered its health check (ChildFailed if its start failed)."""
        deadline = time.monotonic() + timeout_s
        while child.starting and time.monotonic() < deadline:
            time.sleep(START_POLL_S)
        if child.start_failure is not None:
            how = (
                "did not answer in time"
                if child.last_exit is None
                else f"stopped while starting (exit {child.last_exit})"
            )
            raise ChildFailed(f"The {child.name} {how}: {child.start_failure}")
        if child.starting:
            raise ChildFailed(f"The {child.name} did not answer {child.health_url} within {timeout_s:.0f} s.")

    def wait_healthy(self, child: Child, *, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = child.exit_code()
            if code is not None:
                raise ChildFailed(f"The {child.name} stopped while starting (exit {code}): {child.log_tail(3)}")
            if healthy(child.health_url):
                child.starting = False
                return
            time.sleep(0.1)
        raise ChildFailed(f"The {child.name} did not answer {child.health_url} within {timeout_s:.0f} s.")

    # -- supervision ------------------------------------------------------------------------------

    def watch(self, *, interval_s: float = 0.2) -> None:
        """Restart crashed children from now on, in a background thread (until :meth:`stop_all`)."""
        if self._watcher is not None:
            return
        self._watcher = threading.Thread(target=self._watch_loop, args=(interval_s,), name="supervisor", daemon=True)
        self._watcher.start()

    def _watch_loop(self, interval_s: float) -> None:
        while not self.stopping:
            for child in list(self.children):
                self.check(child)
            if self._pending:
                self._launch_due()
            # Quick looks while a child is starting: the till goes online as soon as the engine answers.
            busy = self._pending or any(child.starting for child in self.children)
            time.sleep(START_POLL_S if busy else interval_s)

    def check_start(self, child: Child, now: float | None = None) -> None:
        """One look at a launched child that has not answered yet: answered, stopped, or too slow."""
        now = time.monotonic() if now is None else now
        code = child.exit_code()
        if code is None and healthy(child.health_url):
            with self._lock:
                child.starting = False
            return
        if code is None and now - child.launched_at <= self.start_timeout_s:
            return
        if code is None:  # silent too long: stop it, so a half-started child holds no port
            child.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(5.0)
        with self._lock:
            child.last_exit = code  # None: it did not answer in time (and was stopped)
            child.start_failure = child.log_tail(3)
            child.starting = False

    def check(self, child: Child, now: float | None = None) -> None:
        """One supervision step for ``child``: follow its start, note a crash, restart when due, see it
        healthy again."""
        if child.starting:
            if not self.stopping:
                self.check_start(child, now)
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.stopping or child.gave_up or child.start_failure is not None:
                return
            code = child.exit_code()
            if code is not None and child.restart_at is None:
                child.last_exit = code
                child.recovering = False
                child.crashes = [t for t in child.crashes if now - t < self.policy.window_s] + [now]
                if len(child.crashes) >= self.policy.crash_limit:
                    child.gave_up = True
                    return
                child.restart_at = now + self.policy.delay_s(len(child.crashes))
            if child.restart_at is not None and now >= child.restart_at:
                child.process = self._spawn(child.args, child.log_path, child.nice)
                child.restart_at = None
                child.recovering = True
            recovering = child.recovering and child.exit_code() is None
        # The health check is a network call: made outside the lock, so readers never wait on it.
        if recovering and healthy(child.health_url):
            with self._lock:
                child.recovering = False

    def problem(self) -> BackgroundProblem | None:
        """The first child that is not healthy (crash-looping first), else None (the TUI's watchdog)."""
        with self._lock:
            if self.stopping:
                return None
            problems = [p for p in (child.problem() for child in self.children) if p is not None]
        problems.sort(key=lambda p: p.state is not ChildState.GAVE_UP)
        return problems[0] if problems else None

    def stop_all(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM each child (newest first), then SIGKILL whatever is still running."""
        with self._lock:
            self.stopping = True
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5.0)
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


def healthy(url: str) -> bool:
    """``GET url`` answers 200. The standard library's client: a look costs one loopback connection,
    not a new HTTP client with its TLS context (the watcher looks every 50 ms while a child starts)."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "127.0.0.1", parts.port, timeout=1.0)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


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
