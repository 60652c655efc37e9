"""Finding 2 on a real engine process: four concurrent unauthenticated 64 MB bodies are answered 401
and the engine's peak memory (VmHWM) does not grow by anything like their size (it grew by gigabytes
when bodies were read and parsed before authentication)."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pos_app.config import load_settings
from pos_app.sandbox.demo import DemoProfile

pytestmark = pytest.mark.slow
BODY = 64 * 1024 * 1024
CHUNK = 1024 * 1024
CONNECTIONS = 4


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def _start_engine(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "POS_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    url = load_settings(home / "pos.toml").terminal.engine_url
    log = open(home / "engine.console.log", "ab")  # noqa: SIM115 - closed when the process ends
    process = subprocess.Popen([sys.executable, "-m", "pos_app", "engine", "serve"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (home / "engine.console.log").read_text()[-2000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise AssertionError("the engine did not start")


def _push_unsigned_body(host: str, port: int) -> bytes:
    """Send headers and as much of a 64 MB body as the engine takes; return its status line."""
    with socket.create_connection((host, port), timeout=10) as sock:
        head = (
            f"POST /v1/payments HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {BODY}\r\n\r\n"
        )
        sock.sendall(head.encode("ascii"))
        chunk = b"[" * CHUNK
        try:
            for _ in range(BODY // CHUNK):
                sock.sendall(chunk)
        except OSError:
            pass  # the engine answered and stopped reading: what we want
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            pass
        return answer.split(b"\r\n", 1)[0]


def test_unauthenticated_large_bodies_do_not_grow_the_engine(demo_profile: DemoProfile) -> None:
    home = demo_profile.home
    process, url = _start_engine(home)
    try:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        before = _peak_rss_kib(process.pid)
        with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
            statuses = list(pool.map(lambda _: _push_unsigned_body(host, int(port)), range(CONNECTIONS)))
        after = _peak_rss_kib(process.pid)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert all(status.startswith(b"HTTP/1.1 401") for status in statuses), statuses
    grown_mib = (after - before) / 1024
    sent_mib = CONNECTIONS * BODY / 1024 / 1024
    assert grown_mib < 32, f"peak RSS grew by {grown_mib:.0f} MiB while {sent_mib:.0f} MiB were sent"
