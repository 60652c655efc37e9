"""The engine's scheduled jobs (the resolver, the daily reconciliation) and, with several workers,
which worker runs them.

One worker (``[engine] workers = 1``): the jobs run in this process, as they always did. Several
workers on one port: every worker serves requests, but the jobs run in exactly one of them, the one
holding the ``scheduler`` lease in the ledger (:class:`~pos_app.engine.leases.JobLease`); when it
dies, another worker takes the lease over within a lease time and starts the jobs. Each worker also
watches the ledger for status events written by the others (:mod:`~pos_app.engine.event_watch`), so
a till's event stream sees every payment's change whichever worker handled its callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from datetime import time

from pos_app.config import Settings
from pos_app.engine.event_watch import watch_events
from pos_app.engine.leases import JobLease
from pos_app.engine.wiring import UseCases

log = logging.getLogger(__name__)

#: The ledger lease naming the worker that runs the scheduled jobs.
SCHEDULER_LEASE = "scheduler"
#: The daily reconciliation starts this long after the jobs (see reconcile_daily_after_start).
RECONCILE_AFTER_START_S = 5.0
#: How long a worker giving the scheduler up lets its jobs finish before cancelling them.
_JOBS_STOP_S = 8.0

Jobs = Callable[[asyncio.Event], list[asyncio.Task[None]]]


def start_background(
    settings: Settings, use_cases: UseCases, stop: asyncio.Event, *, reconcile_daily: bool
) -> list[asyncio.Task[None]]:
    """Start this process's background tasks; each ends soon after ``stop`` is set."""

    def jobs(until: asyncio.Event) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(use_cases.resolver.run(until), name="pos-engine-resolver")]
        if reconcile_daily and settings.engine.reconcile_at is not None:
            tasks.append(
                asyncio.create_task(
                    reconcile_daily_after_start(settings, settings.engine.reconcile_at, until),
                    name="pos-engine-reconcile",
                )
            )
        return tasks

    if settings.engine.workers <= 1:
        return jobs(stop)
    ctx = use_cases.context
    lease = JobLease(ctx, SCHEDULER_LEASE)
    return [
        asyncio.create_task(run_when_leased(lease, jobs, stop, ctx.timings.lease_renew_s), name="pos-engine-scheduler"),
        asyncio.create_task(watch_events(ctx, stop), name="pos-engine-event-watch"),
    ]


async def reconcile_daily_after_start(
    settings: Settings, run_at: time, stop: asyncio.Event, *, after_s: float = RECONCILE_AFTER_START_S
) -> None:
    """The daily reconciliation (``run_scheduler``), its code imported ``after_s`` into the start and
    in a thread: the bill parsers and pyarrow cost ~0.1 s of CPU the engine's readiness does not need,
    and a day's reconciliation is not due to the second."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=after_s)
    if stop.is_set():
        return
    runner = await asyncio.to_thread(importlib.import_module, "pos_app.engine.reconcile.runner")
    await runner.run_scheduler(settings, run_at=run_at, stop=stop)


async def run_when_leased(lease: JobLease, jobs: Jobs, stop: asyncio.Event, renew_s: float) -> None:
    """Run ``jobs`` while this process holds ``lease``; try to take or renew it every ``renew_s``.

    A renewal that fails (the ledger did not answer) keeps the jobs running: the lease is held for
    several renewals, and if another process took it meanwhile, the next renewal says so and the jobs
    stop. Until then two resolvers may overlap for a moment, which is safe (each payment is settled
    under its own lease), only wasteful."""
    running: list[asyncio.Task[None]] = []
    jobs_stop = asyncio.Event()
    try:
        while not stop.is_set():
            try:
                held = await lease.hold()
            except Exception:
                log.warning("could not renew the %s lease", lease.name, exc_info=True)
                held = bool(running)
            if held and not running:
                jobs_stop = asyncio.Event()
                running = jobs(jobs_stop)
                log.info("this worker runs the scheduled jobs (%s lease taken)", lease.name)
            elif not held and running:
                log.warning("the %s lease went to another worker: stopping the scheduled jobs here", lease.name)
                await _stop_jobs(running, jobs_stop)
                running = []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=renew_s)
    finally:
        if running:
            await _stop_jobs(running, jobs_stop)
            with contextlib.suppress(Exception):
                await lease.release()  # the next worker need not wait for the lease to lapse


async def _stop_jobs(tasks: list[asyncio.Task[None]], jobs_stop: asyncio.Event) -> None:
    jobs_stop.set()
    _, pending = await asyncio.wait(tasks, timeout=_JOBS_STOP_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
