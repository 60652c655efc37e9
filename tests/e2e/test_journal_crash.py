"""Crash safety of the journal with real processes killed by SIGKILL at random moments.

A writer process records sales in a loop, one transaction per use case (sale + lines + attempt +
events + outbox rows; cash sales with their drawer movement; payment outcomes). It is killed with
SIGKILL mid-stream 25 times. After every kill the journal must open, `verify` must pass, nothing may
be half-written, every sale the writer reported as committed must be there, and the event and
order-number sequences must be gap-free.

To pay the interpreter's start-up once, a small "zygote" process imports the journal and forks one
writer per round; the test kills that forked writer (a real OS process with its own SQLite
connection) — the zygote never touches the database.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from pos_app.domain.ids import parse_trade_no
from pos_app.journal import (
    JournalEvent,
    OutboxEntry,
    PaymentAttempt,
    Sale,
    open_journal,
    sale_events,
    sale_lines,
    verify_chain,
)

KILLS = 25
CLI_CHECKS = {0, 12, KILLS - 1}

ZYGOTE = r"""
import os, random, sys
from datetime import UTC, datetime
from pathlib import Path

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import (
    LineIn, new_out_trade_no, non_final_attempts, open_journal, record_attempt_state, record_cash_sale,
    session_scope, start_sale,
)

journal_path, progress_path = Path(sys.argv[1]), Path(sys.argv[2])
NEXT = {PaymentState.CREATED: PaymentState.SUBMITTED, PaymentState.SUBMITTED: PaymentState.PAID}


def write_forever(round_no: int) -> None:
    rng = random.Random(round_no)
    engine = open_journal(journal_path)
    with progress_path.open("a", encoding="utf-8") as progress:
        while True:
            at = datetime.now(UTC)
            lines = [LineIn(f"item {n}", rng.randint(1, 5000), rng.randint(1, 3)) for n in range(rng.randint(1, 4))]
            choice = rng.random()
            with session_scope(engine) as session:
                if choice < 0.55:
                    number = new_out_trade_no(session, store_id="S00001", terminal_id="T001", at=at)
                    start_sale(
                        session, terminal_id="T001", store_id="S00001", cashier="Alice", out_trade_no=number,
                        channel=rng.choice([Channel.WECHAT, Channel.ALIPAY]),
                        mode=rng.choice([PaymentMode.MICROPAY, PaymentMode.NATIVE]),
                        subject="Crash test", lines=lines, at=at,
                    )
                    done = f"sale {number}"
                elif choice < 0.8:
                    sale = record_cash_sale(
                        session, terminal_id="T001", store_id="S00001", cashier="Bob", subject="Cash",
                        lines=lines, at=at,
                    )
                    done = f"sale {sale.out_trade_no}"
                else:
                    pending = [a for a in non_final_attempts(session) if a.state in NEXT]
                    if not pending:
                        continue
                    attempt = rng.choice(pending)
                    target = NEXT[attempt.state]
                    record_attempt_state(session, attempt.out_trade_no, target, cashier="Alice", at=at)
                    done = f"state {attempt.out_trade_no} {target.value}"
            # Only after the commit returned: everything listed here must survive the kill.
            progress.write(done + "\n")
            progress.flush()


for line in sys.stdin:
    command, _, argument = line.strip().partition(" ")
    if command == "fork":
        pid = os.fork()
        if pid == 0:
            try:
                write_forever(int(argument))
            finally:
                os._exit(3)
        print(pid, flush=True)
    elif command == "reap":
        _, status = os.waitpid(int(argument), 0)
        print(status, flush=True)
    else:
        break
"""


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    journal, progress = tmp_path / "journal.sqlite3", tmp_path / "progress.log"
    progress.touch()
    stderr = (tmp_path / "zygote.err").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, str(journal), str(progress)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        yield process, journal, progress
    finally:
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        stderr.close()


def ask(process: subprocess.Popen[str], command: str) -> str:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(command + "\n")
    process.stdin.flush()
    answer = process.stdout.readline().strip()
    assert answer, f"the zygote died on {command!r}"
    return answer


def progress_lines(progress: Path) -> list[str]:
    # The writer may be killed half-way through a progress line: only complete lines count.
    text = progress.read_text("utf-8")
    return text.split("\n")[:-1]


def check_journal(journal: Path, committed: list[str]) -> int:
    """Everything reported committed is there and complete; returns the number of sales."""
    engine = open_journal(journal)
    try:
        result = verify_chain(engine)
        assert result.ok, str(result)
        with Session(engine) as session:
            sales = session.exec(select(Sale)).all()
            numbers = {sale.out_trade_no for sale in sales}
            # Order numbers come from a counter in the same transaction: gap-free 1..N.
            assert sorted(parse_trade_no(n).seq for n in numbers) == list(range(1, len(sales) + 1))
            events = session.exec(select(JournalEvent).order_by(col(JournalEvent.seq))).all()
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            outbox = {entry.seq for entry in session.exec(select(OutboxEntry))}
            assert outbox == {e.seq for e in events}
            for sale in sales:
                trail = sale_events(session, sale.out_trade_no)
                assert trail and trail[0].kind in ("sale.started", "sale.cash"), sale.out_trade_no
                assert len(sale_lines(session, sale)) == len(trail[-1].payload["sale"]["lines"]) > 0
                assert sum(line.amount_fen for line in sale_lines(session, sale)) == sale.amount_fen
                attempt = session.exec(select(PaymentAttempt).where(PaymentAttempt.sale_id == sale.id)).one()
                assert attempt.state == sale.state and trail[-1].payload["sale"]["state"] == sale.state.value
            for line in committed:
                kind, number, *state = line.split(" ")
                assert number in numbers, f"committed {line!r} was lost"
                if state:
                    moved_past = [e for e in sale_events(session, number) if e.payload.get("to") == state[0]]
                    assert moved_past, f"committed {line!r} was lost"
        return len(sales)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_sigkill_at_random_moments_never_half_writes(zygote: tuple[subprocess.Popen[str], Path, Path]) -> None:
    process, journal, progress = zygote
    rng = random.Random(20261122)
    sales_seen = 0
    for round_no in range(KILLS):
        before = len(progress_lines(progress))
        pid = int(ask(process, f"fork {round_no}"))
        deadline = time.monotonic() + 60
        while len(progress_lines(progress)) <= before:  # the writer is committing sales now
            assert time.monotonic() < deadline, (journal.parent / "zygote.err").read_text()
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.25))
        os.kill(pid, signal.SIGKILL)
        status = int(ask(process, f"reap {pid}"))
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "the writer stopped by itself"

        committed = progress_lines(progress)
        count = check_journal(journal, committed)
        assert count >= sales_seen
        sales_seen = count
        if round_no in CLI_CHECKS:
            result = subprocess.run(
                [sys.executable, "-m", "pos_app", "journal", "verify", "--path", str(journal)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip().endswith("events, chain intact")
    assert len(progress_lines(progress)) >= KILLS  # each round committed before its kill
    assert sales_seen > 0
