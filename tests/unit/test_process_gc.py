"""pos_app.process_gc.serve: a real uvicorn server on a real socket freezes start-up only after its
app's lifespan has started, and serves normally afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

SERVER = """
import contextlib, gc, sys
from fastapi import FastAPI
from pos_app.process_gc import serve

seen = {}

@contextlib.asynccontextmanager
async def lifespan(app):
    seen["frozen_during_startup"] = gc.get_freeze_count()
    seen["built_at_startup"] = [object() for _ in range(10)]  # lives as long as the app
    yield

app = FastAPI(lifespan=lifespan)

@app.get("/gc")
def report():
    return {"frozen_during_startup": seen["frozen_during_startup"], "frozen_now": gc.get_freeze_count()}

serve(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_freezes_after_the_lifespan_started() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:  # the freeze comes FREEZE_AFTER_S after the sockets listen: until then, 0
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/gc", timeout=2).json()
                if answer["frozen_now"] > 0:
                    break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the server never answered, or never froze its start"
            time.sleep(0.1)
        assert answer["frozen_during_startup"] == 0  # not frozen before the app had started
        assert answer["frozen_now"] > 1000  # modules, classes, the app and what its lifespan built
    finally:
        server.terminate()
        server.wait(timeout=10)
