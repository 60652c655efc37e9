"""Generate the chain's history: the sandbox and the engine served on the profile's loopback ports in
this process (their own lifespans: the engine's resolver, the sandbox's ticker and notifier), the four
tills driven day by day on one simulated clock, each day's bills reconciled the next morning.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlmodel import Session

from pos_app.api.client import EngineClient
from pos_app.config import Settings
from pos_app.demo_chain.clock import SimClock
from pos_app.demo_chain.plan import CHAIN, CONSOLE_ACCOUNTS, DayPlan, Op, china_moment, plan_days, till_cashier
from pos_app.demo_chain.profile import ChainTill, write_chain_profile
from pos_app.demo_chain.tills import ChainTillDriver
from pos_app.domain.china_time import CHINA_TZ
from pos_app.engine.providers import build_providers
from pos_app.engine.reconcile.report import ReconcileReport
from pos_app.engine.reconcile.runner import reconcile_day
from pos_app.engine.server import create_engine_app
from pos_app.engine.store import managers, open_ledger
from pos_app.i18n import _
from pos_app.sandbox.app import create_app as create_sandbox_app
from pos_app.secret_files import write_secret_file

#: Bills of a day are ready from 09:00 the next morning (China time); reconcile a little after 10:00.
RECONCILE_AT = clock_time(10, 5)
#: How far apart the operations run side by side on different tills may be planned (see :func:`batches`).
BATCH_WINDOW = timedelta(minutes=10)

Progress = Callable[[str], None]
_NOT_PAYMENTS = frozenset({"refund", "void", "shift opened", "Z report"})


@dataclass
class DaySummary:
    day: date
    counts: Counter[str] = field(default_factory=Counter)
    #: Net takings (sales − refunds − voids) per store, from the tills' Z reports.
    net_by_store: dict[str, int] = field(default_factory=dict)
    #: The previous day's reconciliation, run this morning.
    reconciled_previous: str | None = None

    @property
    def payments(self) -> int:
        """Sales attempted at the tills (cash and wallet, paid or not): what is not an after-sale or a close."""
        return sum(n for what, n in self.counts.items() if what not in _NOT_PAYMENTS)


@dataclass
class ChainSummary:
    home: Path
    days: list[DaySummary]
    #: Each day's reconciliation outcome ("complete, 0 open item(s)", "incomplete (…)").
    reconciled: dict[date, str] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def lines(self) -> list[str]:
        stores = ", ".join(f"{s.store_id} {s.name} ({', '.join(t.terminal_id for t in s.tills)})" for s in CHAIN)
        total: dict[str, int] = {}
        out = [_("Stores: {stores}").format(stores=stores)]
        for day in self.days:
            for store, net in day.net_by_store.items():
                total[store] = total.get(store, 0) + net
        takings = ", ".join(f"{store} ¥{fen / 100:,.2f}" for store, fen in total.items())
        out.append(_("Net takings: {takings}").format(takings=takings))
        per_day = ", ".join(f"{day.day:%m-%d} {day.payments}" for day in self.days)
        out.append(_("Payments per day: {days}").format(days=per_day))
        out.append(_("Generated in {seconds} s").format(seconds=f"{self.elapsed_s:.1f}"))
        return out


def last_full_day(now: datetime) -> date:
    """Yesterday in China: the newest day that is over (today stays for the user to trade in)."""
    return now.astimezone(CHINA_TZ).date() - timedelta(days=1)


async def generate_chain(home: Path, *, days: int, seed: int, progress: Progress) -> ChainSummary:
    """Write the profile into ``home`` and make ``days`` days of history ending yesterday."""
    started = time.monotonic()
    real_now = datetime.now(UTC)
    plans = plan_days(days, last_day=last_full_day(real_now), seed=seed)
    settings, tills = write_chain_profile(home)
    clock = SimClock(plans[0].opens_at - timedelta(hours=1))
    summary = ChainSummary(settings.home, [])
    with store_local_time():
        await _generate(settings, tills, plans, clock, summary, real_now, progress)
    summary.elapsed_s = time.monotonic() - started
    return summary


@contextlib.contextmanager
def store_local_time() -> Iterator[None]:
    """The tills stand in the stores: while they trade, this process's local time is China's.

    A till takes its business day and its report hours from the machine's zone (pos_app.journal.clock);
    without this, a machine elsewhere would book an 08:00 Beijing sale to the day before (west of
    UTC) and every Z report would show hours in its own zone. POSIX ``CST-8`` needs no tz database.
    """
    if not hasattr(time, "tzset"):  # Windows: the machine's zone stays
        yield
        return
    before = os.environ.get("TZ")
    os.environ["TZ"] = "CST-8"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


async def _generate(
    settings: Settings,
    tills: list[ChainTill],
    plans: list[DayPlan],
    clock: SimClock,
    summary: ChainSummary,
    real_now: datetime,
    progress: Progress,
) -> None:
    async with serving(settings, clock) as engine_app:
        _add_managers(settings, clock)
        _add_console_accounts(settings)
        await _activate(engine_app, tills, clock)
        async with httpx.AsyncClient(base_url=f"http://{settings.sandbox.listen}", timeout=10) as sandbox:
            drivers = [ChainTillDriver(till, clock, sandbox) for till in tills]
            try:
                for index, plan in enumerate(plans):
                    previous = plans[index - 1] if index else None
                    day = await _run_day(settings, drivers, plan, clock, previous=previous)
                    if previous is not None and day.reconciled_previous is not None:
                        summary.reconciled[previous.day] = day.reconciled_previous
                    summary.days.append(day)
                    progress(_day_line(day))
                clock.move_to(real_now)
                # Yesterday's bills are ready after 09:00 today (else the served engine's scheduler runs it).
                last = plans[-1].day
                summary.reconciled[last] = await _reconcile(settings, last, clock)
                progress(f"{last}: reconciliation {summary.reconciled[last]}")
            finally:
                for driver in drivers:
                    await driver.aclose()


async def _run_day(
    settings: Settings, drivers: list[ChainTillDriver], plan: DayPlan, clock: SimClock, *, previous: DayPlan | None
) -> DaySummary:
    summary = DaySummary(plan.day)
    clock.move_to(plan.opens_at)
    for driver in drivers:
        driver.open_day(till_cashier(driver.store, driver.spec, plan.day))
    by_till = {driver.spec.terminal_id: driver for driver in drivers}
    reconcile_at = china_moment(plan.day, RECONCILE_AT)
    for batch in batches(plan.ops):
        if previous is not None and batch[0].at >= reconcile_at:
            clock.move_to(reconcile_at)
            summary.reconciled_previous = await _reconcile(settings, previous.day, clock)
            previous = None
        clock.move_to(batch[0].at)
        await asyncio.gather(*(by_till[op.till.terminal_id].run(op) for op in batch))
    clock.move_to(plan.closes_at)
    reports = await asyncio.gather(*(driver.close_day(plan.day) for driver in drivers))
    for driver, z in zip(drivers, reports, strict=True):
        store = driver.store.store_id
        summary.net_by_store[store] = summary.net_by_store.get(store, 0) + int(z["total"]["net_fen"])
        summary.counts.update(driver.day.counts)
    return summary


def batches(ops: Sequence[Op]) -> Iterator[list[Op]]:
    """The day's operations in groups run at once: consecutive operations of different tills within
    :data:`BATCH_WINDOW` of the group's first. The tills wait on the engine in real time, so running the
    four side by side is what keeps a week within a minute or so; a grouped operation happens at the
    group's start (at most that window early), and each till's own operations stay in order."""
    batch: list[Op] = []
    for op in ops:
        if batch and (op.at - batch[0].at > BATCH_WINDOW or any(other.till == op.till for other in batch)):
            yield batch
            batch = []
        batch.append(op)
    if batch:
        yield batch


async def _reconcile(settings: Settings, day: date, clock: SimClock) -> str:
    """Run the engine's reconciliation of ``day`` (bills downloaded from the sandbox on the simulated clock)."""
    providers = build_providers(settings, clock=clock.utc)
    report: ReconcileReport = await reconcile_day(settings, day, providers=providers, now=clock.utc())
    for provider in providers.values():
        await provider.aclose()
    if not report.complete:
        return "incomplete (" + "; ".join(c.problem or c.status for c in report.channels if c.problem) + ")"
    return f"complete, {len(report.open_items)} open item(s)"


def _day_line(day: DaySummary) -> str:
    made = ", ".join(f"{count} {what}" for what, count in sorted(day.counts.items()))
    net = ", ".join(f"{store} ¥{fen / 100:,.2f}" for store, fen in day.net_by_store.items())
    line = f"{day.day} ({day.day:%a}): {day.payments} payments ({made}); net {net}"
    if day.reconciled_previous is not None:
        line += f"; the day before reconciled: {day.reconciled_previous}"
    return line


def _add_managers(settings: Settings, clock: SimClock) -> None:
    """Each store's manager approves refunds and voids at the engine too (what `pos engine manager add`
    does); the engine seeds the first store's demo manager by itself."""
    ledger = open_ledger(settings.database_url)
    try:
        with Session(ledger) as session:
            for store in CHAIN:
                manager = store.manager
                managers.seed_managers(
                    session, store_id=store.store_id, managers=[(manager.name, manager.pin)], now=clock.utc()
                )
            session.commit()
    finally:
        ledger.dispose()


def _add_console_accounts(settings: Settings) -> None:
    """The owner and each store's manager may sign in to `pos console serve` (what `pos console user add` does)."""
    from pos_app.console import accounts
    from pos_app.engine.store.console_accounts import Role

    ledger = open_ledger(settings.database_url)
    try:
        for name, password, store_id in CONSOLE_ACCOUNTS:
            role = Role.OWNER if store_id is None else Role.MANAGER
            accounts.add_user(ledger, name=name, role=role, store_id=store_id, password=password, by="pos demo chain")
    finally:
        ledger.dispose()


async def _activate(engine_app: Any, tills: list[ChainTill], clock: SimClock) -> None:
    """Each till redeems a one-time activation code at the engine and keeps its key (mode 0600)."""
    from pos_app.journal import add_staff, open_journal, session_scope

    registry = engine_app.state.engine.registry
    for till in tills:
        terminal = till.settings.terminal
        code = registry.new_activation_code(
            ttl=timedelta(minutes=10), store_id=terminal.store_id, terminal_id=terminal.terminal_id
        )
        async with EngineClient(terminal.engine_url, terminal.terminal_id, None, clock=clock.unix) as client:
            answer = await client.activate(code, terminal.store_id, terminal.terminal_id, terminal.name)
        key = answer.terminal_key.strip() + "\n"
        write_secret_file(till.settings.path(terminal.terminal_key_file), key.encode("ascii"))
        journal = open_journal(till.settings.path(terminal.journal_path))
        try:
            with session_scope(journal) as session:
                for person in till.store.staff:
                    add_staff(
                        session, person.name, person.pin, person.role, terminal_id=terminal.terminal_id, at=clock.utc()
                    )
        finally:
            journal.dispose()


@contextlib.asynccontextmanager
async def serving(settings: Settings, clock: SimClock) -> AsyncIterator[Any]:
    """The sandbox and the engine, each on its configured loopback port, both on the simulated clock."""
    sandbox = create_sandbox_app(settings, clock=clock)
    engine = create_engine_app(settings, clock=clock.utc)
    async with (
        engine.router.lifespan_context(engine),
        sandbox.router.lifespan_context(sandbox),
        _serve(sandbox, settings.sandbox.listen),
        _serve(engine, settings.engine.listen),
    ):
        yield engine


@contextlib.asynccontextmanager
async def _serve(app: Any, listen: str) -> AsyncIterator[None]:
    host, _, port = listen.rpartition(":")
    config = uvicorn.Config(app, host=host, port=int(port), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise OSError(f"could not listen on {listen}")
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=5)
