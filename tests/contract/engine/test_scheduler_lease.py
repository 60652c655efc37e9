"""The scheduler lease (``engine_leases``) between two engine processes on one ledger, and the lock
file that takes the workers' notification batches in turn."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pos_app.engine.context import LEASE
from pos_app.engine.leases import JobLease
from pos_app.engine.notify.writer_lock import WriterLock
from pos_app.engine.scheduler import SCHEDULER_LEASE, run_when_leased

from .conftest import Rig


async def test_one_process_holds_the_scheduler_until_it_lapses_then_another_takes_it(rig: Rig) -> None:
    first = JobLease(rig.engine.context, SCHEDULER_LEASE)
    second_engine = rig.new_engine()
    second = JobLease(second_engine.context, SCHEDULER_LEASE)

    assert await first.hold()
    assert not await second.hold()  # held by the first
    rig.time.advance(LEASE.total_seconds() - 1)
    assert await first.hold()  # renewed by its holder...
    rig.time.advance(LEASE.total_seconds() - 1)
    assert not await second.hold()  # ...so still not free
    rig.time.advance(2)  # the first stopped renewing (died): its lease lapsed
    assert await second.hold()
    assert not await first.hold()  # the old holder learns it lost the lease

    await second.release()  # a worker stopping lets it go: taken at once, no lapse to wait for
    assert await first.hold()
    await second_engine.aclose()


async def test_jobs_run_only_while_the_lease_is_held(rig: Rig) -> None:
    other = JobLease(rig.new_engine().context, SCHEDULER_LEASE)
    assert await other.hold()  # another process runs the scheduler
    started: list[asyncio.Event] = []

    def jobs(until: asyncio.Event) -> list[asyncio.Task[None]]:
        started.append(until)
        return [asyncio.create_task(until.wait())]

    stop = asyncio.Event()
    runner = asyncio.create_task(run_when_leased(JobLease(rig.engine.context, SCHEDULER_LEASE), jobs, stop, 0.01))
    await _until(lambda: True, 0.1)
    assert started == []  # not while the other holds it

    rig.time.advance(LEASE.total_seconds() + 1)  # the other died
    await _until(lambda: len(started) == 1, 5)
    assert not started[0].is_set()

    rig.time.advance(LEASE.total_seconds() + 1)  # this process stalled past its lease...
    assert await other.hold()  # ...and the other took it: the next renewal here stops the jobs
    await _until(lambda: started[0].is_set(), 5)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert len(started) == 1


async def _until(condition: object, timeout: float) -> None:
    """Poll ``condition`` (a callable) until true or ``timeout`` s passed (let the runner turn at least once)."""
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await asyncio.sleep(0.05)
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_the_notify_lock_file_admits_one_holder_at_a_time(tmp_path: Path) -> None:
    one, two = WriterLock(tmp_path / "ledger-notify.lock"), WriterLock(tmp_path / "ledger-notify.lock")
    assert one.try_acquire()
    assert not two.try_acquire()
    one.release()
    assert two.try_acquire()
    assert not one.try_acquire()
    two.release()
    assert (tmp_path / "ledger-notify.lock").stat().st_mode & 0o777 == 0o600
    one.close()
    two.close()
