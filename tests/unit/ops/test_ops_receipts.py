"""Receipts built from journal sales: byte-for-byte ESC/POS goldens (original and REPRINT), the same
content on screen, a journaled reprint, and printing to a file target."""

from __future__ import annotations

import os
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from ops_kit import START, STORE, TERMINAL, events
from sqlalchemy import Engine

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import (
    LineIn,
    record_attempt_state,
    record_cash_sale,
    session_scope,
    start_sale,
    verify_chain,
)
from pos_app.journal.errors import JournalError
from pos_app.receipts.escpos import print_receipt, render_escpos
from pos_app.receipts.text import render_text
from pos_app.terminal.journal_receipts import Letterhead, printer_target, receipt_for_sale, reprint_receipt

GOLDEN = Path(__file__).parent / "golden"
HEAD = Letterhead("Demo Store 上海店", "Till 1")
ORDER = "P261120080000S00001T00100000001"


def _wallet_sale(journal: Engine) -> None:
    with session_scope(journal) as session:
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", out_trade_no=ORDER,
            channel=Channel.WECHAT, mode=PaymentMode.MICROPAY, subject="Coffee", at=START,
            lines=[LineIn("Coffee 咖啡", 1000, 2), LineIn("Cake", 350)],
        )  # fmt: skip
        record_attempt_state(
            session, ORDER, PaymentState.PAID, cashier="Ann",
            transaction_id="4200002026112008000012345678", at=START + timedelta(seconds=9),
        )  # fmt: skip


def _check_golden(name: str, stream: bytes) -> None:
    golden = GOLDEN / f"{name}.escpos"
    if os.environ.get("POS_UPDATE_GOLDEN"):
        golden.write_bytes(stream)
    assert stream == golden.read_bytes()


def test_wallet_receipt_from_the_journal(journal: Engine) -> None:
    _wallet_sale(journal)
    with session_scope(journal) as session:
        receipt = receipt_for_sale(session, ORDER, HEAD, tz=UTC)
    assert receipt.amount_fen == 2350 and receipt.qr_content == "4200002026112008000012345678"
    assert not receipt.reprint
    _check_golden("journal_wechat", render_escpos(receipt))
    text = render_text(receipt)
    assert "Coffee 咖啡 x2" in text and "¥23.50" in text and "2026-11-20 08:00:00" in text and "REPRINT" not in text


def test_cash_reprint_is_marked_and_journaled(journal: Engine, tmp_path: Path) -> None:
    with session_scope(journal) as session:
        sale = record_cash_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Bob", subject="Tea", at=START, amount_fen=1800,
            tendered_fen=2000,
        )  # fmt: skip
    with session_scope(journal) as session:
        receipt = reprint_receipt(
            session, sale.out_trade_no, HEAD, cashier="Bob", at=START + timedelta(hours=1), target="file", tz=UTC
        )
    assert receipt.reprint and receipt.tendered_fen == 2000 and receipt.change_fen == 200
    stream = render_escpos(receipt)
    _check_golden("journal_cash_reprint", stream)
    assert stream.count(b"*** REPRINT ***") == 1
    assert "*** REPRINT ***" in render_text(receipt) and "Change" in render_text(receipt)
    last = events(journal)[-1]
    assert (last.kind, last.ref, last.payload["cashier"]) == ("receipt.reprint", sale.out_trade_no, "Bob")
    assert verify_chain(journal).ok
    out = tmp_path / "printer.bin"
    print_receipt(receipt, printer_target(f"file:{out}"))
    assert out.read_bytes() == stream


def test_no_receipt_for_an_unpaid_sale(journal: Engine) -> None:
    with session_scope(journal) as session:
        start_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Ann", out_trade_no="PX", channel=Channel.ALIPAY,
            mode=PaymentMode.NATIVE, subject="x", at=START, amount_fen=100,
        )  # fmt: skip
    with session_scope(journal) as session, pytest.raises(JournalError, match="no receipt"):
        receipt_for_sale(session, "PX", HEAD)
    with session_scope(journal) as session, pytest.raises(JournalError, match="No sale"):
        reprint_receipt(session, "NOPE", HEAD, cashier="Ann", at=START)
