"""Start-up objects out of the cyclic garbage collector's way, for the long-running processes.

A full (generation 2) garbage collection walks every object the process holds, and most of them
were built at start-up and live as long as the process: modules, classes, FastAPI's routes and
pydantic's validators, SQLAlchemy's mappers, the ledger's engine — so a full collection stops a
payment's request for as long as that walk takes, whenever one lands on its path. Frozen
(``gc.freeze``) they are never walked again, and a full collection only walks what was built since.
Collecting first means only live objects are frozen, so nothing that is already garbage is kept
forever.

While such a process starts, the collector would walk the same growing heap again and again (each
full collection walks everything built so far, and imports build little garbage): about a tenth of
the engine's CPU before it is ready (``tests/bench/NOTES.md``). So the `pos` entry point pauses
automatic collection for the starts of the long-running processes (:func:`pause_during_start`),
and :func:`freeze_startup` — the one collection, then the freeze — ends the pause.
"""

from __future__ import annotations

import gc
from typing import Any

#: Whether :func:`pause_during_start` turned the collector off (and the end of the start turns it on).
_paused = False


def pause_during_start() -> None:
    """No automatic collection until :func:`freeze_startup` (or :func:`end_pause`). For the entry
    point of a process that calls one of them once it has started; nothing if already off."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def paused() -> bool:
    """The start's pause is on (see :func:`pause_during_start`)."""
    return _paused


def end_pause() -> None:
    """Automatic collection back on, if the start's pause had turned it off."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()


def freeze_startup() -> None:
    """Collect, then freeze everything alive now (see the module docstring), and end the start's
    pause. Call once per process."""
    gc.collect()
    gc.freeze()
    end_pause()


#: How long after its sockets listen a server freezes its start (see :func:`serve`).
FREEZE_AFTER_S = 1.0


def serve(app: Any, **config: Any) -> None:
    """``uvicorn.run(app, **config)``, freezing start-up once the app's lifespan has started (its
    ledger, providers and service are built by then) and the sockets are listening — ``FREEZE_AFTER_S``
    later: the collection walks everything the start built (~60 ms for the engine), and the first
    requests (the till's look that puts it online, a load balancer's ``/readyz``) need not wait for it.
    """
    import asyncio

    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                asyncio.get_running_loop().call_later(FREEZE_AFTER_S, freeze_startup)

    try:
        _Server(uvicorn.Config(app, **config)).run()
    finally:
        end_pause()  # a start that failed before listening: never leave the collector off
