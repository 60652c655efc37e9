"""One day's reconciliation end to end, and the daily scheduler the engine server can start.

``reconcile_day``: download (or reuse the archived) bills → parse (whole file or nothing) → match
against the ledger and the synced terminal journals → apply what the bills prove → write the report
(``reconcile/YYYY-MM-DD/report.json`` and ``.csv`` under the engine home) → upload it when every
channel was reconciled. The day's state (``state.json``) records the run and the upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.domain.states import MONEY_IN_STATES
from pos_app.engine.providers.base import PaymentProvider
from pos_app.engine.reconcile.day_match import match_archived
from pos_app.engine.reconcile.download import DownloadPolicy, fetch_bill
from pos_app.engine.reconcile.errors import BillDownloadError, BillFormatError, BillNotReady, UploadError
from pos_app.engine.reconcile.inputs import JournalSale
from pos_app.engine.reconcile.journal_sales import has_journals, load_journal_sales
from pos_app.engine.reconcile.ledger_reads import count_due
from pos_app.engine.reconcile.report import ChannelSummary, ReconcileReport, summarise
from pos_app.engine.reconcile.results import OpenItem
from pos_app.engine.reconcile.settle import apply_settlements
from pos_app.engine.reconcile.upload import UploadPolicy, destination, upload_report

log = logging.getLogger(__name__)

WALLETS = (Channel.WECHAT, Channel.ALIPAY)
DEFAULT_RUN_AT = time(10, 0)  # bills are generated from 09:00 the next day (WeChat spec §5)
_MONEY_IN = frozenset(s.value for s in MONEY_IN_STATES)


@dataclass(frozen=True, slots=True)
class Paths:
    bills: Path
    reports: Path

    @classmethod
    def of(cls, settings: Settings) -> Paths:
        return cls(settings.home / "bills", settings.home / "reconcile")

    def day_dir(self, day: date) -> Path:
        return self.reports / day.isoformat()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def read_state(settings: Settings, day: date) -> dict[str, Any]:
    """The recorded state of ``day``'s reconciliation ({} if it never ran)."""
    path = Paths.of(settings).day_dir(day) / "state.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(settings: Settings, day: date, state: dict[str, Any]) -> None:
    _write_atomic(Paths.of(settings).day_dir(day) / "state.json", json.dumps(state, indent=2) + "\n")


def load_report(settings: Settings, day: date) -> dict[str, Any] | None:
    """The stored report of ``day`` as a dict (what the manager dashboard renders), or None."""
    path = Paths.of(settings).day_dir(day) / "report.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _cash_summary(journal: dict[str, JournalSale]) -> ChannelSummary:
    cash = [s for s in journal.values() if s.channel is Channel.CASH and s.state in _MONEY_IN]
    return ChannelSummary(
        Channel.CASH,
        payments=len(cash),
        payments_fen=sum(s.amount_fen for s in cash),
        settled_fen=sum(s.amount_fen for s in cash),
        ledger_payments=len(cash),
        ledger_payments_fen=sum(s.amount_fen for s in cash),
        matched=len(cash),
    )


async def reconcile_day(
    settings: Settings,
    day: date,
    *,
    engine: Engine | None = None,
    providers: dict[Channel, PaymentProvider] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    download_policy: DownloadPolicy | None = None,
    upload_policy: UploadPolicy | None = None,
    apply: bool = True,
    upload: bool = True,
    refresh: bool = False,
    now: datetime | None = None,
) -> ReconcileReport:
    """Reconcile ``day`` (a Beijing calendar day). Never raises for a bill that is not ready or
    broken: that channel is reported ``not_ready``/``failed`` and the report is incomplete."""
    started = now or datetime.now(UTC)
    paths = Paths.of(settings)
    own_engine = engine is None
    if engine is None:
        from pos_app.engine.store import open_ledger

        engine = open_ledger(settings.database_url)
    own_providers = providers is None
    if providers is None:
        from pos_app.engine.providers import build_providers

        providers = build_providers(settings, transport=transport)
    report = ReconcileReport(day, started)
    try:
        journal: dict[str, JournalSale] | None = None
        if has_journals(engine):
            journal = await asyncio.to_thread(load_journal_sales, engine, day)
            report.journals_compared = True
        for channel in WALLETS:
            provider = providers.get(channel)
            if provider is None:
                report.channels.append(ChannelSummary(channel, status="disabled"))
                continue
            summary = await _reconcile_channel(
                settings, engine, provider, channel, day, paths, journal, report, download_policy, apply, refresh
            )
            report.channels.append(summary)
        if journal is not None:
            report.channels.append(_cash_summary(journal))
    finally:
        if own_providers:
            for provider in providers.values():
                await provider.aclose()
        if own_engine:
            engine.dispose()

    day_dir = paths.day_dir(day)
    _write_atomic(day_dir / "report.json", report.to_json())
    _write_atomic(day_dir / "report.csv", report.to_csv())
    state = read_state(settings, day)
    state.update(
        {
            "date": day.isoformat(),
            "last_run_at": started.isoformat(),
            "runs": int(state.get("runs", 0)) + 1,
            "complete": report.complete,
            "open_items": len(report.open_items),
        }
    )
    state.setdefault("upload", {"status": "not_sent"})
    if upload and report.complete and destination(settings) is not None:
        state["upload"] = await _upload(settings, report, transport, upload_policy)
    elif destination(settings) is None:
        state["upload"] = {"status": "no_destination"}
    _write_state(settings, day, state)
    return report


async def _reconcile_channel(
    settings: Settings,
    engine: Engine,
    provider: PaymentProvider,
    channel: Channel,
    day: date,
    paths: Paths,
    journal: dict[str, JournalSale] | None,
    report: ReconcileReport,
    policy: DownloadPolicy | None,
    apply: bool,
    refresh: bool,
) -> ChannelSummary:
    try:
        path = await fetch_bill(provider, channel, day, paths.bills, policy=policy, refresh=refresh)
    except BillNotReady as exc:
        # "No bill" also means "no transactions that day": believe it only when the ledger agrees.
        if await asyncio.to_thread(count_due, engine, day, channel) == 0:
            return ChannelSummary(channel, problem="No bill: no transactions that day.")
        return ChannelSummary(channel, status="not_ready", problem=exc.message)
    except BillDownloadError as exc:
        return ChannelSummary(channel, status="failed", problem=exc.message)
    try:
        summary, items = await asyncio.to_thread(_match_day, engine, path, channel, day, journal, apply)
    except BillFormatError as exc:
        # Keep the evidence, and make the next run download the bill again.
        rejected = path.with_name(f"{path.name}.rejected-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        os.replace(path, rejected)
        log.warning("rejected %s: %s", path, exc.message)
        return ChannelSummary(channel, status="failed", problem=exc.message)
    report.items.extend(items)
    return summary


def _match_day(
    engine: Engine, path: Path, channel: Channel, day: date, journal: dict[str, JournalSale] | None, apply: bool
) -> tuple[ChannelSummary, list[OpenItem]]:
    """Parse (all or nothing), stream the ledger through the matcher, apply what the bill proves.

    ``day_match.match_archived`` is also what the benchmark (tests/bench/bench_reconcile.py) times.
    """
    bill, refunds, match = match_archived(engine, path, day, channel, journal)
    if apply and match.settled:
        apply_settlements(engine, match.settled, bill_day=day, now=datetime.now(UTC))
    return summarise(channel, bill, refunds, match), match.items


async def _upload(
    settings: Settings,
    report: ReconcileReport,
    transport: httpx.AsyncBaseTransport | None,
    policy: UploadPolicy | None,
) -> dict[str, Any]:
    try:
        result = await upload_report(settings, report, transport=transport, policy=policy)
    except UploadError as exc:
        log.warning("reconciliation upload failed: %s", exc.message)
        return {"status": "failed", "error": exc.message, "at": datetime.now(UTC).isoformat()}
    return {
        "status": "delivered",
        "batch_id": result.batch_id,
        "destination": result.destination,
        "duplicate": result.duplicate,
        "attempts": result.attempts,
        "at": datetime.now(UTC).isoformat(),
    }


def _is_done(state: dict[str, Any]) -> bool:
    upload = state.get("upload") or {}
    return bool(state.get("complete")) and upload.get("status") in ("delivered", "no_destination")


async def run_scheduler(
    settings: Settings,
    *,
    run_at: time = DEFAULT_RUN_AT,
    retry_every: timedelta = timedelta(minutes=30),
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] | None = None,
    reconcile: Callable[[Settings, date], Awaitable[ReconcileReport]] | None = None,
) -> None:
    """Reconcile yesterday every day after ``run_at`` (Beijing time) until ``stop`` is set.

    A day whose bills are not ready, or whose upload was not acknowledged, is tried again every
    ``retry_every``. Errors are logged, never raised: the engine keeps serving payments.
    """
    stop = stop or asyncio.Event()
    now_of = clock or (lambda: datetime.now(CHINA_TZ))
    run = reconcile or (lambda s, d: reconcile_day(s, d))
    while not stop.is_set():
        now = now_of().astimezone(CHINA_TZ)
        day = now.date() - timedelta(days=1)
        due_at = datetime.combine(now.date(), run_at, CHINA_TZ)
        wait: float
        if now < due_at:
            wait = (due_at - now).total_seconds()
        elif _is_done(read_state(settings, day)):
            wait = (due_at + timedelta(days=1) - now).total_seconds()
        else:
            try:
                report = await run(settings, day)
                log.info("reconciled %s: complete=%s, %d open items", day, report.complete, len(report.open_items))
            except Exception:  # the scheduler must outlive any single failure
                log.exception("reconciliation of %s failed", day)
            done = _is_done(read_state(settings, day))
            wait = (due_at + timedelta(days=1) - now).total_seconds() if done else retry_every.total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.01))
