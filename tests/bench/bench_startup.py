"""Start-up benchmark: how soon a cashier can work after typing `pos`, and how soon an engine serves.

    .venv/bin/python tests/bench/bench_startup.py [--runs 7] [--baseline SRC]

Measures, each a median over ``--runs`` starts (the machine is shared: medians, not single runs):
- `pos` with an existing demo profile (terminal activated, staff seeded, ledger migrated; the
  profile is made by one unmeasured first run) in a real pseudo-terminal of 100x30:
  to the sign-in screen drawn (its title's "Sign in" written to the terminal; target ≤ 1.0 s) and to
  the engine online (the status bar's "engine online" written; target ≤ 2.0 s). Ctrl+Q ends each run
  and the run waits until the till and its children are gone.
- `pos engine serve` on that profile to the first ``GET /readyz`` answered 200 (target ≤ 1.0 s), and
  `pos sandbox serve` to ``GET /healthz`` 200 (no target: it gates the first wallet payment).

Times are from just before the process is spawned (the interpreter's own start is included). The
till's own CPU time at sign-in is printed too: on a shared machine it moves less than wall time.
``--baseline SRC`` measures another source tree (say, main) in turn with this one and prints ratios.
The till runs with ``LANGUAGE=en`` so the texts looked for are the English ones.

Each measured tree's ``pos_app`` is compiled to bytecode first (``compileall``), as an installed
package is (pip compiles at install) and as a checkout is after its first run, unless
``PYTHONDONTWRITEBYTECODE`` is set — it is on the build machine, where otherwise every process of
every start compiled pos_app's ~300 modules from source (about 0.1 s of CPU each). Python checks each
``.pyc`` against its source, so a stale one is never used. ``--no-bytecode`` skips this step (the trees
are measured as they are).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import fcntl
import http.client
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROWS, COLS = 30, 100
DRAWN = b"Sign in"
ONLINE = b"engine online"
TARGETS_S = {"sign-in drawn": 1.0, "engine online": 2.0, "engine /readyz": 1.0}


@dataclass
class PtyReader:
    """Reads a child's terminal output in a thread and notes when each awaited text first appeared."""

    fd: int
    started: float
    wanted: tuple[bytes, ...]
    pid: int
    seen: dict[bytes, float] = field(default_factory=dict)
    #: CPU seconds the till itself had used when each text appeared (the machine's load aside).
    cpu: dict[bytes, float] = field(default_factory=dict)
    buffer: bytearray = field(default_factory=bytearray)

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            now = time.perf_counter()
            self.buffer += chunk
            for text in self.wanted:
                if text not in self.seen and text in self.buffer:
                    self.seen[text] = now - self.started
                    self.cpu[text] = cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _env(home: Path, src: str | None = None) -> dict[str, str]:
    env = dict(os.environ, POS_HOME=str(home), TERM="xterm-256color", LANGUAGE="en", LC_ALL="C.UTF-8")
    env.pop("LANG", None)
    if src is not None:  # another checkout's pos_app first on the path (its children inherit it)
        env["PYTHONPATH"] = src
    return env


def _take_terminal() -> None:  # pragma: no cover - runs in the child between fork and exec
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_till(
    home: Path, *, sandbox_port: int | None = None, src: str | None = None, timeout_s: float = 60.0
) -> dict[str, float]:
    """One `pos` start in a pseudo-terminal: seconds to each awaited text (and, given its port, to the
    sandbox child answering its health check: the first wallet payment's earliest moment); then
    Ctrl+Q and wait for the till to end."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pos_app"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(home, src),
        cwd=src,
        start_new_session=True,
        preexec_fn=_take_terminal,
    )
    os.close(slave)
    reader = PtyReader(master, started, (DRAWN, ONLINE), process.pid)
    thread = threading.Thread(target=reader.run, daemon=True)
    thread.start()
    try:
        deadline = started + timeout_s
        sandbox_ready = None
        while len(reader.seen) < len(reader.wanted) or (sandbox_port and sandbox_ready is None):
            if time.perf_counter() > deadline or process.poll() is not None:
                tail = bytes(reader.buffer[-2000:]).decode("utf-8", "replace")
                raise RuntimeError(f"`pos` did not show {reader.wanted} (exit {process.poll()}):\n{tail}")
            if sandbox_port and sandbox_ready is None and _answers_200(sandbox_port, "/healthz"):
                sandbox_ready = time.perf_counter() - started
            time.sleep(0.01)
        time.sleep(0.3)  # let the till settle before quitting (its first health check, the clock)
        os.write(master, b"\x11")  # Ctrl+Q
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)
        thread.join(timeout=2)
    figures = {
        "sign-in drawn": reader.seen[DRAWN],
        "engine online": reader.seen[ONLINE],
        "till CPU at sign-in": reader.cpu[DRAWN],
    }
    if sandbox_ready is not None:
        figures["sandbox ready"] = sandbox_ready
    return figures


def _answers_200(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def run_server(
    home: Path, args: list[str], port: int, path: str, *, src: str | None = None, timeout_s: float = 30.0
) -> tuple[float, float]:
    """(seconds, CPU seconds of the server) from spawning `pos ARGS` to ``GET path`` answered 200;
    then SIGTERM and wait."""
    log = open(home / "logs" / f"bench-{args[0]}.log", "ab")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pos_app", *args], env=_env(home, src), cwd=src, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        while not _answers_200(port, path):
            if time.perf_counter() - started > timeout_s or process.poll() is not None:
                raise RuntimeError(f"`pos {' '.join(args)}` did not answer {path} (exit {process.poll()})")
            time.sleep(0.002)
        return time.perf_counter() - started, cpu_seconds(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _port(listen: str) -> int:
    return int(listen.rpartition(":")[2])


def summary(name: str, values: list[float]) -> str:
    target = TARGETS_S.get(name)
    verdict = (
        ""
        if target is None
        else f"  target ≤ {target:.1f} s: {'met' if statistics.median(values) <= target else 'NOT met'}"
    )
    return (
        f"{name:<24} n={len(values)}  median={statistics.median(values):.3f} s  "
        f"min={min(values):.3f} s  max={max(values):.3f} s{verdict}"
    )


def compile_tree(src: str | None) -> Path:
    """Compile the ``pos_app`` a run from ``src`` imports (None: this checkout's) to bytecode; its path."""
    if src is None:
        import pos_app

        package = Path(pos_app.__file__).parent
    else:
        package = Path(src) / "pos_app"
    if not compileall.compile_dir(package, quiet=1):
        raise RuntimeError(f"{package} did not compile")
    return package


def measure(home: Path, runs: int, src: str | None, label: str) -> dict[str, list[float]]:
    """``runs`` starts of the till, then of each server, from ``src`` (None: this checkout)."""
    from pos_app.config import load_settings

    settings = load_settings(home / "pos.toml")
    engine_port, sandbox_port = _port(settings.engine.listen), _port(settings.sandbox.listen)
    figures: dict[str, list[float]] = {}
    for n in range(runs):
        for key, value in run_till(home, sandbox_port=sandbox_port, src=src).items():
            figures.setdefault(key, []).append(value)
        wall, cpu = run_server(home, ["engine", "serve"], engine_port, "/readyz", src=src)
        figures.setdefault("engine /readyz", []).append(wall)
        figures.setdefault("engine CPU at /readyz", []).append(cpu)
        wall, cpu = run_server(home, ["sandbox", "serve"], sandbox_port, "/healthz", src=src)
        figures.setdefault("sandbox /healthz", []).append(wall)
        figures.setdefault("sandbox CPU at /healthz", []).append(cpu)
        print(f"  {label} run {n + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in figures.items()), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="starts of each kind (default 7, at least 5 advised)")
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also measure the pos_app in the source tree SRC (e.g. `git archive main | tar -x -C SRC`), "
        "one run of each in turn so both see the same load, and print the ratios",
    )
    parser.add_argument("--keep", action="store_true", help="keep the profile directory (printed)")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="do not compile the measured trees' pos_app first (see above)"
    )
    args = parser.parse_args()
    for src in [None] + ([args.baseline] if args.baseline else []):
        if not args.no_bytecode:
            print(f"bytecode compiled: {compile_tree(src)}", flush=True)
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}", flush=True)

    base = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    home = base / "home"
    try:
        print(f"profile: {home}  (first run makes it, not measured)", flush=True)
        first = run_till(home, timeout_s=120)
        print(
            f"first start (new profile): sign-in {first['sign-in drawn']:.2f} s, engine {first['engine online']:.2f} s"
        )
        variants = [("this", None)] + ([("baseline", args.baseline)] if args.baseline else [])
        results: dict[str, dict[str, list[float]]] = {label: {} for label, _src in variants}
        for _ in range(args.runs):  # one run of each variant in turn: both see the machine's load alike
            for label, src in variants:
                for key, values in measure(home, 1, src, label).items():
                    results[label].setdefault(key, []).extend(values)
        for label, _src in variants:
            print(f"\n{label}{'' if label == 'this' else f' ({args.baseline})'}:")
            for name, values in results[label].items():
                print(summary(name, values))
        if args.baseline:
            print("\nbaseline / this (medians):")
            for name, values in results["this"].items():
                before = statistics.median(results["baseline"].get(name, [float("nan")]))
                print(f"  {name:<24} {before / statistics.median(values):5.2f}×")
    finally:
        if args.keep:
            print(f"kept: {base}")
        else:
            with contextlib.suppress(OSError):
                shutil.rmtree(base)


if __name__ == "__main__":
    main()
