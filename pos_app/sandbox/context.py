"""What every sandbox route needs, in one object, and the hooks gateways register at import time.

Routes get the context with the FastAPI dependency :func:`get_ctx`::

    @router.post("/gateway.do")
    async def gateway(request: Request, ctx: SandboxContext = Depends(get_ctx)) -> Response: ...

Gateways (WeChat here, Alipay in ``pos_app.sandbox.alipay``) register, when their routes module is
imported:

- :func:`register_setup` — run once per app right after the context is built (create your tables
  with ``ctx.store.ensure_schema(DDL)``);
- :func:`register_ticker` — a function run about every 50 ms by the running app (and by
  :meth:`SandboxContext.tick` in tests) that completes what is due: delayed native payments, password
  entries, refunds that settle later;
- :func:`register_preparer` — a factory that, given the context, returns the notifier preparer of
  the gateway (how each delivery attempt is signed);
- ``wallet.register_native_handler`` — the QR-code prefix the gateway's native orders use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from pos_app.config import Settings
from pos_app.sandbox.clock import Clock
from pos_app.sandbox.faults import FaultRegistry
from pos_app.sandbox.keys import SandboxKeys
from pos_app.sandbox.notifier import Notifier, Preparer
from pos_app.sandbox.store import SandboxStore

Ticker = Callable[["SandboxContext"], None]
PreparerFactory = Callable[["SandboxContext"], Preparer]

Setup = Callable[["SandboxContext"], None]

_SETUPS: dict[str, Setup] = {}
_TICKERS: dict[str, Ticker] = {}
_PREPARERS: dict[str, PreparerFactory] = {}


def register_setup(gateway: str, setup: Setup) -> None:
    _SETUPS[gateway] = setup


def registered_setups() -> dict[str, Setup]:
    return dict(_SETUPS)


def register_ticker(gateway: str, ticker: Ticker) -> None:
    _TICKERS[gateway] = ticker


def register_preparer(gateway: str, factory: PreparerFactory) -> None:
    _PREPARERS[gateway] = factory


def registered_tickers() -> dict[str, Ticker]:
    return dict(_TICKERS)


def registered_preparers() -> dict[str, PreparerFactory]:
    return dict(_PREPARERS)


@dataclass(slots=True)
class SandboxContext:
    settings: Settings
    keys: SandboxKeys
    store: SandboxStore
    clock: Clock
    faults: FaultRegistry
    notifier: Notifier
    tickers: dict[str, Ticker] = field(default_factory=dict)

    def now(self, gateway: str | None = None) -> float:
        """The gateway's clock: the sandbox clock plus any CLOCK_SKEW fault for ``gateway``."""
        return self.clock.now() + self.faults.skew_seconds(gateway)

    def tick(self) -> None:
        """Complete everything that is due now (delayed payments, password entries, refunds)."""
        for ticker in self.tickers.values():
            ticker(self)

    async def step(self) -> int:
        """One full background pass, for tests: :meth:`tick`, then deliver due notifications."""
        self.tick()
        return await self.notifier.deliver_due()


def get_ctx(request: Request) -> SandboxContext:
    """FastAPI dependency: the app's sandbox context."""
    ctx: SandboxContext = request.app.state.ctx
    return ctx
