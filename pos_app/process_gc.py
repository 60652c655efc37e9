"""Start-up objects out of the cyclic garbage collector's way, for the long-running processes.

A full (generation 2) garbage collection walks every object the process holds, and most of them
were built at start-up and live as long as the process: modules, classes, FastAPI's routes and
pydantic's validators, SQLAlchemy's mappers, the ledger's engine — so a full collection stops a
payment's request for as long as that walk takes, whenever one lands on its path. Frozen
(``gc.freeze``) they are never walked again, and a full collection only walks what was built since.
Collecting first means only live objects are frozen, so nothing that is already garbage is kept
forever.
"""

from __future__ import annotations

import gc
from typing import Any


def freeze_startup() -> None:
    """Collect, then freeze everything alive now (see the module docstring). Call once per process."""
    gc.collect()
    gc.freeze()


def serve(app: Any, **config: Any) -> None:
    """``uvicorn.run(app, **config)``, freezing start-up once the app's lifespan has started (its
    ledger, providers and service are built by then) and the sockets are listening."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                freeze_startup()

    _Server(uvicorn.Config(app, **config)).run()
