"""Tampering with the journal by hand is detected by `pos journal verify`, which names the event."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from journal_kit import AT, STORE, TERMINAL, wallet_sale
from sqlalchemy import Engine

from pos_app.domain.states import PaymentState
from pos_app.journal import (
    LineIn,
    add_staff,
    open_shift,
    record_attempt_state,
    record_cash_sale,
    session_scope,
    verify_chain,
)

POS = [sys.executable, "-m", "pos_app"]


@pytest.fixture
def filled(journal: Engine, journal_path: Path) -> Path:
    """A journal with staff, a shift, a paid wallet sale (events 3-5) and a cash sale (event 6)."""
    with session_scope(journal) as session:
        add_staff(session, "Mia", "13579", "manager", terminal_id=TERMINAL)
        open_shift(session, terminal_id=TERMINAL, cashier="Bob", float_fen=10000, at=AT)
    sale = wallet_sale(journal, 1230)
    with session_scope(journal) as session:
        record_attempt_state(session, sale.out_trade_no, PaymentState.SUBMITTED, cashier="Alice")
        record_attempt_state(session, sale.out_trade_no, PaymentState.PAID, cashier="Alice", transaction_id="42")
        record_cash_sale(
            session,
            terminal_id=TERMINAL,
            store_id=STORE,
            cashier="Bob",
            subject="c",
            lines=[LineIn("Bun", 250, qty=2)],
            at=AT,
        )
    assert str(verify_chain(journal)) == "6 events, chain intact"
    journal.dispose()
    return journal_path


def run_verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*POS, "journal", "verify", "--path", str(path)], capture_output=True, text=True, timeout=60)


def tamper(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path)  # foreign keys off, as anyone with the sqlite3 shell would have it
    with connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


def problem(path: Path) -> str:
    from pos_app.journal import open_journal

    engine = open_journal(path)
    try:
        result = verify_chain(engine)
    finally:
        engine.dispose()
    assert not result.ok
    return str(result)


def test_intact_journal_passes_on_the_command_line(filled: Path) -> None:
    result = run_verify(filled)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6 events, chain intact"


def test_edited_event_payload_fails_on_the_command_line(filled: Path) -> None:
    tamper(filled, "UPDATE events SET payload_json = replace(payload_json, '1230', '123') WHERE seq = 3")
    result = run_verify(filled)
    assert result.returncode == 1
    assert "event 3" in result.stderr and "edited" in result.stderr
    assert result.stdout == ""


def test_deleted_event_fails_on_the_command_line(filled: Path) -> None:
    tamper(filled, "DELETE FROM events WHERE seq = 4")
    result = run_verify(filled)
    assert result.returncode == 1
    assert "event 4 missing" in result.stderr


def test_edited_sale_row_fails_on_the_command_line(filled: Path) -> None:
    tamper(filled, "UPDATE sales SET amount_fen = 1 WHERE channel = 'WECHAT'")
    result = run_verify(filled)
    assert result.returncode == 1
    assert "event 5" in result.stderr and "amount_fen edited" in result.stderr


def test_missing_file_is_one_line_exit_1(tmp_path: Path) -> None:
    result = run_verify(tmp_path / "nope.sqlite3")
    assert result.returncode == 1
    assert "no such journal file" in result.stderr and "Traceback" not in result.stderr


Tamper = Callable[[Path], None]

CASES: list[tuple[str, list[str], str]] = [
    ("event kind", ["UPDATE events SET kind = 'note' WHERE seq = 2"], "event 2: content does not match its hash"),
    (
        "event time",
        ["UPDATE events SET at_text = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 5"],
        "event 5: content",
    ),
    ("event hash", ["UPDATE events SET hash = '" + "a" * 64 + "' WHERE seq = 6"], "event 6: content"),
    ("prev hash", ["UPDATE events SET prev_hash = '" + "0" * 64 + "' WHERE seq = 2"], "event 2: prev_hash"),
    ("event ref", ["UPDATE events SET ref = 'X' WHERE seq = 3"], "event 3: ref column"),
    ("first event", ["DELETE FROM events WHERE seq = 1"], "event 1 missing"),
    ("two events", ["DELETE FROM events WHERE seq IN (2, 3)"], "event 2–3 missing"),
    ("last event", ["DELETE FROM events WHERE seq = 6", "DELETE FROM outbox WHERE seq = 6"], "event 6 missing"),
    (
        "last event and its counter",
        [
            "DELETE FROM events WHERE seq = 6",
            "DELETE FROM outbox WHERE seq = 6",
            "UPDATE counters SET value = 5 WHERE name = 'events'",
        ],
        "is not recorded by any event (inserted by hand, or the events after event 5 deleted)",
    ),
    ("bad json", ["UPDATE events SET payload_json = '{' WHERE seq = 4"], "event 4: payload is not valid JSON"),
    ("sale state", ["UPDATE sales SET state = 'FAILED' WHERE channel = 'WECHAT'"], "event 5: sale"),
    ("sale cashier", ["UPDATE sales SET cashier = 'Eve' WHERE channel = 'CASH'"], "event 6: sale"),
    ("sale line", ["UPDATE sale_lines SET qty = 9"], "lines edited"),
    ("attempt", ["UPDATE payment_attempts SET transaction_id = '99' WHERE channel = 'WECHAT'"], "attempt edited"),
    (
        "deleted sale",
        ["DELETE FROM payment_attempts WHERE channel = 'CASH'", "DELETE FROM sales WHERE channel = 'CASH'"],
        "event 6: the sale",
    ),
    ("cash movement", ["UPDATE cash_movements SET amount_fen = 0 WHERE kind = 'sale'"], "event 6: cash_movement"),
    ("shift float", ["UPDATE shifts SET opening_float_fen = 0"], "event 2: shift 1 differs"),
    ("manager pin", ["UPDATE staff SET pin_hash = 'scrypt$16384$8$1$00$00'"], "event 1: staff Mia differs"),
    ("role", ["UPDATE staff SET role = 'cashier'"], "event 1: staff Mia differs from what it recorded (role edited)"),
    (
        "inserted sale",
        [
            "INSERT INTO sales (out_trade_no, terminal_id, store_id, cashier, channel, mode, subject, amount_fen,"
            " state, refunded_fen, business_day, created_at, updated_at)"
            " VALUES ('P261122000000S00001T00199999999', 'T001', 'S00001', 'Eve', 'CASH', 'CASH', 'x', 100,"
            " 'PAID', 0, '2026-11-22', '2026-11-22 00:00:00', '2026-11-22 00:00:00')"
        ],
        "sale P261122000000S00001T00199999999 is not recorded by any event",
    ),
]


@pytest.mark.parametrize(("statements", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_every_hand_edit_is_named(filled: Path, statements: list[str], expected: str) -> None:
    tamper(filled, *statements)
    assert expected in problem(filled)


def test_recomputing_an_edited_events_hash_breaks_the_next_link(filled: Path) -> None:
    """An editor who also fixes the hash of the event they changed is caught by the next prev_hash."""
    import json

    from pos_app.domain.chain import event_hash
    from pos_app.journal.payloads import load_payload

    connection = sqlite3.connect(filled)
    seq, kind, payload_json, at, prev = connection.execute(
        "SELECT seq, kind, payload_json, at_text, prev_hash FROM events WHERE seq = 3"
    ).fetchone()
    payload = load_payload(payload_json)
    payload["sale"]["amount_fen"] = 1
    new_json = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    new_hash = event_hash(seq=seq, kind=kind, payload=payload, at=at, prev_hash=prev)
    with connection:
        connection.execute("UPDATE events SET payload_json = ?, hash = ? WHERE seq = 3", (new_json, new_hash))
    connection.close()
    assert "event 4: prev_hash does not match" in problem(filled)
