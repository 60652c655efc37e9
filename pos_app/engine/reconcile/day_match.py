"""One channel's day matched against the ledger, as ``pos reconcile``, the scheduler and the benchmark run it.

The day's payments are read (:class:`ledger_day.LedgerDay`) while the bill is parsed; other days'
payments and refunds, and the terminals of the few payments that become items, are looked up on
demand (:mod:`ledger_reads`).
"""

from __future__ import annotations

import time as clock
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Engine

from pos_app.domain.routing import Channel
from pos_app.engine.reconcile.bill import Bill
from pos_app.engine.reconcile.download import parse_archived
from pos_app.engine.reconcile.inputs import JournalSale, LedgerRefund
from pos_app.engine.reconcile.ledger_day import LedgerDay
from pos_app.engine.reconcile.ledger_reads import load_ledger_refunds, lookup_payments, lookup_refunds, lookup_terminals
from pos_app.engine.reconcile.matcher import match_channel
from pos_app.engine.reconcile.results import ChannelMatch


def match_day(
    engine: Engine,
    bill: Bill,
    day: date,
    channel: Channel,
    refunds: Iterable[LedgerRefund] = (),
    journal: dict[str, JournalSale] | None = None,
) -> ChannelMatch:
    """Match ``bill`` against the ledger's ``day`` of ``channel`` (what ``pos reconcile``, the
    scheduler and the benchmark run): the bulk of PAID payments as column batches, the others as
    full rows, other days and terminals looked up on demand."""
    with LedgerDay(engine, day, channel) as ledger:
        return _match(engine, bill, ledger, refunds, journal)


def match_archived(
    engine: Engine,
    path: Path,
    day: date,
    channel: Channel,
    journal: dict[str, JournalSale] | None = None,
    *,
    timings: dict[str, float] | None = None,
) -> tuple[Bill, list[LedgerRefund], ChannelMatch]:
    """Parse the archived bill and match it against the ledger's ``day`` (what ``pos reconcile``,
    the scheduler and the benchmark run).

    The day's payments are read in a background thread while the bill is parsed (see
    :meth:`LedgerDay.read_ahead`); then matched as :func:`match_day` does. A bill the parser
    refuses raises BillFormatError as before. ``timings`` (if given) gets ``parsed``, the
    ``time.perf_counter()`` at which the bill was parsed.
    """
    with LedgerDay(engine, day, channel) as ledger:
        ledger.read_ahead()
        bill = parse_archived(path, channel, day)
        if timings is not None:
            timings["parsed"] = clock.perf_counter()
        refunds = load_ledger_refunds(engine, day, channel)
        ledger.wait()
        # The parse's and the read's freed Arrow buffers go back to the system before the join
        # allocates its hash table (the allocator keeps them for reuse otherwise): peak memory.
        pa.default_memory_pool().release_unused()
        return bill, refunds, _match(engine, bill, ledger, refunds, journal)


def _match(
    engine: Engine,
    bill: Bill,
    ledger: LedgerDay,
    refunds: Iterable[LedgerRefund],
    journal: dict[str, JournalSale] | None,
) -> ChannelMatch:
    return match_channel(
        bill,
        ledger.others(),
        refunds,
        journal,
        paid=ledger.paid(),
        lookup_payments=lambda numbers: lookup_payments(engine, numbers),
        lookup_refunds=lambda numbers: lookup_refunds(engine, numbers),
        lookup_terminals=lambda numbers: lookup_terminals(engine, numbers),
    )
