"""The real engine and sandbox for console tests: both apps started in a thread's own event loop
(the sandbox talks to the engine in-process, as in the API contract tests) and the engine served by
uvicorn on a loopback port, so that the console (another thread) reaches it over a real socket while
selenium's blocking calls run in the test's thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pos_app.config import Settings
from tests.contract.api.api_support import Stack, open_stack, serve_on_loopback

T = TypeVar("T")
START_TIMEOUT_S = 60


@dataclass
class EngineOnLoopback:
    url: str
    stack: Stack
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T], timeout_s: float = 60) -> T:
        """Run ``work`` in the engine's loop (the in-process sandbox client lives there)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout_s)


@contextlib.contextmanager
def serve_engine(settings: Settings) -> Iterator[EngineOnLoopback]:
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["stop"] = stop
        try:
            async with open_stack(settings) as stack, serve_on_loopback(stack.engine) as (url, _server):
                box["served"] = EngineOnLoopback(url, stack, asyncio.get_running_loop())
                ready.set()
                await stop.wait()
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            raise

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT_S) or "served" not in box:
        raise RuntimeError(f"the engine did not start: {box.get('error')!r}")
    served: EngineOnLoopback = box["served"]
    try:
        yield served
    finally:
        served.loop.call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=20)
