"""`pos demo chain` makes a chain whose books agree everywhere: two days generated through the real
engine, sandbox and tills (on loopback sockets), then read back independently — the ledger with plain
SQL, each till's journal file, the synced journals and the reconciliation reports on disk."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from pos_app import journal
from pos_app.demo_chain.plan import CHAIN
from pos_app.demo_chain.profile import till_home
from pos_app.demo_chain.run import ChainSummary, generate_chain
from pos_app.engine.store import open_ledger
from pos_app.engine.sync_compare import compare_day
from pos_app.journal.z_store import list_z_reports, z_content

pytestmark = pytest.mark.slow

DAYS = 2
MONEY_IN = ("PAID", "PARTIALLY_REFUNDED", "REFUNDED")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> ChainSummary:
    home = tmp_path_factory.mktemp("chain") / "demo"
    lines: list[str] = []
    summary = asyncio.run(generate_chain(home, days=DAYS, seed=5, progress=lines.append))
    assert len([line for line in lines if "net S00001" in line]) == DAYS  # one progress line per day
    return summary


def _ledger(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{home / 'engine.sqlite3'}?mode=ro", uri=True)


def _z_reports(home: Path) -> dict[tuple[str, str], list[dict[str, object]]]:
    """(store, business day) → the Z reports of that store's tills, read from each till's own journal."""
    found: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for store in CHAIN:
        for till in store.tills:
            engine = journal.open_journal(till_home(home, till) / "journal.sqlite3")
            try:
                with journal.session_scope(engine) as session:
                    for report in list_z_reports(session, till.terminal_id):
                        found[(store.store_id, report.business_day)].append(z_content(report))
            finally:
                engine.dispose()
    return found


def test_every_till_closed_every_day_with_a_z_report(chain: ChainSummary) -> None:
    reports = _z_reports(chain.home)
    days = [day.day.isoformat() for day in chain.days]
    assert len(days) == DAYS
    for store in CHAIN:
        for day in days:
            assert len(reports[(store.store_id, day)]) == len(store.tills)


def test_ledger_wallet_takings_per_store_equal_the_tills_z_reports(chain: ChainSummary) -> None:
    with _ledger(chain.home) as db:
        paid = db.execute(
            f"SELECT store_id, business_day, SUM(amount_fen) FROM payments WHERE state IN {MONEY_IN} "
            "GROUP BY store_id, business_day"
        ).fetchall()
        refunded = db.execute(
            "SELECT p.store_id, p.business_day, SUM(r.amount_fen) FROM refunds r "
            "JOIN payments p ON p.out_trade_no = r.out_trade_no WHERE r.state = 'SUCCESS' "
            "GROUP BY p.store_id, p.business_day"
        ).fetchall()
    ledger_net: dict[tuple[str, str], int] = defaultdict(int)
    for store, day, fen in paid:
        ledger_net[(store, day)] += fen
    for store, day, fen in refunded:
        ledger_net[(store, day)] -= fen
    z_net: dict[tuple[str, str], int] = defaultdict(int)
    for key, reports in _z_reports(chain.home).items():
        for report in reports:
            channels = report["channels"]
            assert isinstance(channels, dict)
            z_net[key] += channels["wechat"]["net_fen"] + channels["alipay"]["net_fen"]
    assert ledger_net == z_net
    assert all(fen > 0 for fen in z_net.values()) and len(z_net) == DAYS * len(CHAIN)


def test_the_summary_nets_are_the_z_reports(chain: ChainSummary) -> None:
    reports = _z_reports(chain.home)
    for day in chain.days:
        for store in CHAIN:
            total = sum(int(report["total"]["net_fen"]) for report in reports[(store.store_id, day.day.isoformat())])  # type: ignore[index]
            assert day.net_by_store[store.store_id] == total


def test_each_store_carries_only_its_own_tills(chain: ChainSummary) -> None:
    with _ledger(chain.home) as db:
        pairs = set(db.execute("SELECT DISTINCT store_id, terminal_id FROM payments").fetchall())
        terminals = set(db.execute("SELECT store_id, terminal_id FROM terminals").fetchall())
        numbers = db.execute("SELECT out_trade_no, store_id, terminal_id FROM payments").fetchall()
    expected = {(store.store_id, till.terminal_id) for store in CHAIN for till in store.tills}
    assert pairs == expected and terminals == expected
    # The order number names its store and till too.
    assert all(number[13:19] == store and number[19:23] == till for number, store, till in numbers)


def test_refunds_voids_failures_and_cancels_all_happened_and_settled(chain: ChainSummary) -> None:
    with _ledger(chain.home) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM payments GROUP BY state").fetchall())
        voids = db.execute("SELECT COUNT(*) FROM payments WHERE void_kind IS NOT NULL").fetchone()[0]
        refunds = dict(db.execute("SELECT state, COUNT(*) FROM refunds GROUP BY state").fetchall())
        paid_by_channel = dict(
            db.execute(f"SELECT channel || '/' || mode, COUNT(*) FROM payments WHERE state IN {MONEY_IN} GROUP BY 1")
        )
    assert set(states) <= {"PAID", "PARTIALLY_REFUNDED", "REFUNDED", "REVERSED", "FAILED", "CLOSED"}, states
    assert states.get("FAILED", 0) >= 1 and states.get("CLOSED", 0) >= 1
    assert voids >= 1 and set(refunds) == {"SUCCESS"} and refunds["SUCCESS"] > voids
    assert set(paid_by_channel) == {"wechat/native", "wechat/micropay", "alipay/native", "alipay/micropay"}
    assert sum(count for what, count in chain_counts(chain).items() if what == "cash") > 0


def chain_counts(chain: ChainSummary) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for day in chain.days:
        for what, count in day.counts.items():
            total[what] += count
    return total


def test_the_synced_journals_agree_with_the_ledger_and_add_up_to_the_z_reports(chain: ChainSummary) -> None:
    store_of = {till.terminal_id: store.store_id for store in CHAIN for till in store.tills}
    z_reports = _z_reports(chain.home)
    ledger = open_ledger(f"sqlite:///{chain.home / 'engine.sqlite3'}")
    try:
        with Session(ledger) as session:
            for day in chain.days:
                comparisons = compare_day(session, day.day)
                assert {c.terminal_id for c in comparisons} == set(store_of)
                # What the engine holds of each store's day: the wallet payments of its ledger plus the cash
                # sales of its tills' uploaded journals.
                engine_net: dict[str, int] = defaultdict(int)
                for comparison in comparisons:
                    assert comparison.agrees, comparison.differences
                    cash = [row for row in comparison.terminal if row.channel.value == "cash"]
                    assert cash and cash[0].count > 0  # the cash sales reached the engine with the journal
                    wallets = sum(row.net_fen for row in comparison.engine)
                    engine_net[store_of[comparison.terminal_id]] += wallets + cash[0].net_fen
                for store in CHAIN:
                    reports = z_reports[(store.store_id, day.day.isoformat())]
                    assert engine_net[store.store_id] == sum(int(r["total"]["net_fen"]) for r in reports)  # type: ignore[index]
    finally:
        ledger.dispose()


def test_reconciliation_found_no_unexpected_difference(chain: ChainSummary) -> None:
    first = chain.days[0].day
    reports = {}
    for day in chain.days:
        path = chain.home / "reconcile" / day.day.isoformat() / "report.json"
        if path.exists():
            reports[day.day] = json.loads(path.read_text("utf-8"))
    # The first day is reconciled the next morning; yesterday's bills are ready only after 09:00 today.
    assert first in reports and chain.reconciled[first].startswith("complete")
    for day, report in reports.items():
        complete = all(c["status"] in ("ok", "disabled") for c in report["channels"])
        assert complete or day == date.fromisoformat(max(d.day.isoformat() for d in chain.days)), report
        assert report["journals_compared"] is True
        assert report["open_items"] == [], report["open_items"]


def test_the_console_accounts_sign_in_with_their_scope(chain: ChainSummary) -> None:
    from pos_app.console import accounts
    from pos_app.demo_chain.plan import CONSOLE_ACCOUNTS

    ledger = open_ledger(f"sqlite:///{chain.home / 'engine.sqlite3'}")
    try:
        for name, password, store_id in CONSOLE_ACCOUNTS:
            signed = accounts.sign_in(
                ledger, name=name, password=password, client="127.0.0.1", lifetime=timedelta(hours=1), replaces=None
            )
            assert isinstance(signed, accounts.SignedIn), name
            assert signed.viewer.stores() == (None if store_id is None else (store_id,))
            if store_id is not None:  # a manager asking for the other store still reads only their own
                other = "S00001" if store_id == "S00002" else "S00002"
                assert signed.viewer.stores(other) == (store_id,)
    finally:
        ledger.dispose()
