"""The supervisor's restart policy with real child processes: capped exponential backoff, a crash
loop stops the restarts, the problem's words fit the status bar; a launched child's start is
followed in the background, and one that stops or stays silent while starting is reported, not
restarted."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

from pos_app.launcher import RestartPolicy, Supervisor
from pos_app.terminal.background import ChildState, StartState


def test_backoff_doubles_and_is_capped() -> None:
    policy = RestartPolicy(first_delay_s=1.0, max_delay_s=30.0)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def crashing_child(tmp_path: Path) -> tuple[Supervisor, object]:
    # `python -m pos_app no-such-command` exits at once (usage error): a child that keeps crashing.
    supervisor = Supervisor(tmp_path, python=sys.executable)
    child = supervisor.start("engine", ["no-such-command"], "http://127.0.0.1:9/healthz")
    child.process.wait(30)
    return supervisor, child


def test_a_crash_is_restarted_after_the_backoff(tmp_path: Path) -> None:
    supervisor, child = crashing_child(tmp_path)
    try:
        first = child.process
        now = time.monotonic()
        supervisor.check(child, now)
        problem = supervisor.problem()
        assert problem is not None and problem.state is ChildState.RESTARTING and problem.restarts == 1
        assert problem.exit_code == 2 and problem.log_path.endswith("engine.log")
        supervisor.check(child, now + 0.5)  # the backoff (1 s) is not over
        assert child.process is first
        supervisor.check(child, now + 1.0)
        assert child.process is not first  # started again, and not healthy yet
        assert supervisor.problem() is not None
    finally:
        supervisor.stop_all()


def test_a_child_that_keeps_crashing_is_given_up(tmp_path: Path) -> None:
    supervisor, child = crashing_child(tmp_path)
    try:
        now = time.monotonic()
        for n in range(1, 5):
            supervisor.check(child, now)  # the crash is noted
            now += supervisor.policy.delay_s(n)
            supervisor.check(child, now)  # restarted
            child.process.wait(30)  # and crashes again
        supervisor.check(child, now)  # the fifth crash within two minutes
        problem = supervisor.problem()
        assert problem is not None and problem.state is ChildState.GAVE_UP and problem.restarts == 5
        restarted = child.process
        supervisor.check(child, now + 600)
        assert child.process is restarted  # no more restarts
        assert "keeps crashing" in problem.short() and "Quit the till" in problem.detail()
        assert str(tmp_path / "logs" / "engine.log") in problem.detail()
    finally:
        supervisor.stop_all()


def test_the_warning_fits_the_status_bar(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from pos_app.terminal.background import BackgroundProblem
    from pos_app.tui.widgets.status_bar import StatusBar

    problem = BackgroundProblem("sandbox", ChildState.RESTARTING, 3, -9, str(tmp_path / ("x" * 40)))
    app = SimpleNamespace(
        sandbox=True, engine_online=False, unsent=123, problem=problem, cashier_name="Demo Cashier", till=None
    )
    line = StatusBar.status_text(app, 78)
    assert line.cell_len <= 78
    assert line.plain.endswith("sandbox gateways restarting (3) — F5")
    assert "Demo Cashier" in StatusBar.status_text(app).plain  # with room, nothing is left out


def wait_start_over(supervisor: Supervisor, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not supervisor.progress().done:
        assert time.monotonic() < deadline, f"still starting: {supervisor.progress()}"
        time.sleep(0.05)


def test_a_launched_child_that_stops_while_starting_is_reported_not_restarted(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, python=sys.executable)
    try:
        child = supervisor.launch("engine", ["no-such-command"], "http://127.0.0.1:9/healthz")
        assert supervisor.progress().state("engine") in {StartState.STARTING, StartState.FAILED}
        wait_start_over(supervisor)
        assert supervisor.progress().state("engine") is StartState.FAILED
        problem = supervisor.problem()
        assert problem is not None and problem.state is ChildState.NOT_STARTED and problem.exit_code == 2
        assert problem.short() == "engine did not start — F5"
        detail = problem.detail()
        assert "stopped while starting (exit status 2)" in detail and "What to do" in detail
        assert "No such command" in detail  # the last lines of its log
        first = child.process
        supervisor.check(child, time.monotonic() + 600)
        assert child.process is first  # never restarted
    finally:
        supervisor.stop_all()


def test_a_launched_child_that_stays_silent_is_stopped_and_reported(tmp_path: Path) -> None:
    silent = tmp_path / "silent-python"
    silent.write_text("#!/bin/sh\nexec sleep 60\n")
    silent.chmod(silent.stat().st_mode | stat.S_IXUSR)
    supervisor = Supervisor(tmp_path, python=str(silent), start_timeout_s=0.5)
    try:
        child = supervisor.launch("sandbox", ["sandbox", "serve"], "http://127.0.0.1:9/healthz")
        wait_start_over(supervisor)
        assert child.exit_code() is not None  # stopped: a half-started child holds no port
        problem = supervisor.problem()
        assert problem is not None and problem.state is ChildState.NOT_STARTED and problem.exit_code is None
        assert "did not answer while starting" in problem.detail()
    finally:
        supervisor.stop_all()


def test_a_launched_child_that_answers_is_ready(tmp_path: Path) -> None:
    """A child that answers its health check: its start is over (READY) and nothing is wrong."""
    from pos_app.sandbox.demo import free_loopback_port

    server = tmp_path / "server-python"
    # Whatever the arguments, serve 200 on the port the test chose (a child that starts in ~0.1 s).
    port = free_loopback_port()
    server.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m http.server {port} --bind 127.0.0.1\n')
    server.chmod(server.stat().st_mode | stat.S_IXUSR)
    supervisor = Supervisor(tmp_path, python=str(server))
    try:
        supervisor.launch("engine", [], f"http://127.0.0.1:{port}/")
        wait_start_over(supervisor)
        assert supervisor.progress().state("engine") is StartState.READY
        assert supervisor.problem() is None
    finally:
        supervisor.stop_all()


def serving_python(tmp_path: Path, port: int, name: str) -> Path:
    """A stand-in for `python -m pos_app …` that serves 200 on ``port`` whatever its arguments."""
    script = tmp_path / name
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m http.server {port} --bind 127.0.0.1\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_a_child_launched_after_another_starts_once_it_answers_and_stays_up(tmp_path: Path) -> None:
    """The embedded default starts the console after the engine (which migrates the ledger first).
    The watcher thread forks it: a child forked by a short-lived thread got SIGTERM when that thread
    ended (PR_SET_PDEATHSIG follows the thread), which is how the console once died at once."""
    from pos_app.sandbox.demo import free_loopback_port

    port = free_loopback_port()
    supervisor = Supervisor(tmp_path, python=str(serving_python(tmp_path, port, "server-python")))
    try:
        engine = supervisor.launch("engine", [], f"http://127.0.0.1:{port}/")
        console_port = free_loopback_port()
        supervisor.python = str(serving_python(tmp_path, console_port, "console-python"))
        supervisor.launch_after(engine, "console", [], f"http://127.0.0.1:{console_port}/")
        deadline = time.monotonic() + 30
        while supervisor.progress().state("console") is not StartState.READY:
            assert time.monotonic() < deadline, supervisor.progress()
            time.sleep(0.05)
        console = next(child for child in supervisor.children if child.name == "console")
        assert console.launched_at >= next(c for c in supervisor.children if c.name == "engine").launched_at
        time.sleep(1.0)  # well past the moment a thread-forked child would have been killed
        assert console.exit_code() is None and supervisor.problem() is None
    finally:
        supervisor.stop_all()
    assert all(child.exit_code() is not None for child in supervisor.children)


def test_a_child_launched_after_a_failed_one_is_never_launched(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, python=sys.executable)
    try:
        engine = supervisor.launch("engine", ["no-such-command"], "http://127.0.0.1:9/healthz")
        supervisor.launch_after(engine, "console", ["console", "serve"], "http://127.0.0.1:9/healthz")
        wait_start_over(supervisor)
        time.sleep(0.5)  # a few watcher turns after the engine's failure
        assert [child.name for child in supervisor.children] == ["engine"]
    finally:
        supervisor.stop_all()


def test_a_console_problem_says_payments_go_on(tmp_path: Path) -> None:
    from pos_app.terminal.background import BackgroundProblem

    console = BackgroundProblem("console", ChildState.NOT_STARTED, 0, 1, str(tmp_path / "console.log"))
    engine = BackgroundProblem("engine", ChildState.NOT_STARTED, 0, 1, str(tmp_path / "engine.log"))
    assert "Payments are not affected" in console.detail() and "Wallet payments" not in console.detail()
    assert "payments are not affected" in console.notice()
    assert "Wallet payments (QR and scan) are off" in engine.detail()
