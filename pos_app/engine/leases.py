"""Leases: which engine process settles a payment, or runs a one-process job; renewed while it
lives, taken over after.

A process settling a payment holds its lease for ``timings.lease`` and renews it every
``timings.lease_renew_s`` while it lives, so another process's resolver leaves the payment alone
meanwhile and takes it over soon after the holder died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlmodel import Session

from pos_app.domain.states import SETTLED_STATES, PaymentState
from pos_app.engine.context import EngineContext
from pos_app.engine.store import engine_leases, repo
from pos_app.engine.store.models import Payment

log = logging.getLogger(__name__)


class Leases:
    """Takes, renews and gives up this process's settling leases."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def renew(self, out_trade_no: str) -> bool:
        """Extend the lease this process holds (False: released, settled or taken over)."""
        until = self._ctx.now() + self._ctx.timings.lease
        return await self._ctx.tx.write(repo.renew_lease, out_trade_no, self._ctx.owner, until)

    @contextlib.asynccontextmanager
    async def held(self, out_trade_no: str) -> AsyncIterator[None]:
        """While the block runs, renew the lease every ``lease_renew_s`` of real time: a long gateway
        call must not let the lease lapse while this process is alive."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self._ctx.timings.lease_renew_s)
                try:
                    if not await self.renew(out_trade_no):
                        return  # released, settled, or taken over
                except Exception:
                    log.warning("could not renew the lease on %s", out_trade_no, exc_info=True)

        keeper = asyncio.get_running_loop().create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def claim(self, out_trade_no: str) -> Payment | None:
        """Take the payment's lease; None if another process holds it or it is settled now."""
        ctx = self._ctx
        now = ctx.now()

        def claim(session: Session) -> Payment | None:
            if not repo.claim_payment(session, out_trade_no, now, now + ctx.timings.lease, owner=ctx.owner):
                return None
            p = repo.get_payment(session, out_trade_no)
            if p is None or PaymentState(p.state) in SETTLED_STATES:
                repo.release_payment(session, out_trade_no, owner=ctx.owner)
                return None
            return p

        return await ctx.tx.write(claim)

    async def release(self, out_trade_no: str) -> None:
        """Give the lease up, if this process still holds it."""
        await self._ctx.tx.write(repo.release_payment, out_trade_no, owner=self._ctx.owner)


class JobLease:
    """A ledger lease on a job only one engine process may run (``store.engine_leases``), such as the
    scheduler: taken or renewed by :meth:`hold` every ``timings.lease_renew_s``, held for
    ``timings.lease``, so another process takes it over within a lease (+ one renewal) after the
    holder died, and at once after it let go (:meth:`release`)."""

    def __init__(self, ctx: EngineContext, name: str) -> None:
        self._ctx = ctx
        self.name = name

    async def hold(self) -> bool:
        """Take or renew the lease; False while another living process holds it."""
        now = self._ctx.now()
        until = now + self._ctx.timings.lease
        return await self._ctx.tx.write(engine_leases.take_or_renew, self.name, self._ctx.owner, now, until)

    async def release(self) -> None:
        await self._ctx.tx.write(engine_leases.release, self.name, self._ctx.owner, self._ctx.now())
