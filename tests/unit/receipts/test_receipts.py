"""Receipts: the on-screen text and the ESC/POS stream carry the same content; bytes are golden."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from pos_app.domain.routing import Channel
from pos_app.receipts.escpos import print_receipt, render_escpos
from pos_app.receipts.model import Receipt, ReceiptLine, receipt_lines
from pos_app.receipts.text import WIDTH, display_width, render_text, text_lines, two_columns

GOLDEN = Path(__file__).parent / "golden"


def _receipt(**overrides: object) -> Receipt:
    base: dict[str, object] = dict(
        store_name="Demo Store 上海店",
        terminal_name="Till 1",
        cashier="Demo Cashier",
        at=datetime(2026, 11, 22, 12, 30, 5),
        out_trade_no="P261122123005S00001T00100000042",
        amount_fen=2350,
        channel=Channel.WECHAT,
        lines=(ReceiptLine("Coffee 咖啡", 2, 1000), ReceiptLine("Cake", 1, 350)),
        transaction_id="4200002026112212300512345678",
        masked_auth_code="**************1234",
    )
    base.update(overrides)
    return Receipt(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "receipt"),
    [
        ("wechat", _receipt()),
        ("wechat_reprint", _receipt(reprint=True)),
        (
            "cash",
            _receipt(channel=Channel.CASH, transaction_id=None, masked_auth_code=None, tendered_fen=5000, lines=()),
        ),
    ],
)
def test_escpos_stream_matches_golden(name: str, receipt: Receipt) -> None:
    golden = GOLDEN / f"{name}.escpos"
    stream = render_escpos(receipt)
    if os.environ.get("POS_UPDATE_GOLDEN"):
        golden.write_bytes(stream)
    assert stream == golden.read_bytes()


def test_stream_structure() -> None:
    stream = render_escpos(_receipt(reprint=True))
    assert stream.count(b"*** REPRINT ***") == 1
    # Native QR (GS ( k, function 180 "store") carries the transaction id, then a full cut (GS V 0).
    assert b"\x1d(k\x1f\x001P04200002026112212300512345678" in stream
    assert stream.endswith(b"\x1dV\x00")
    assert b"REPRINT" not in render_escpos(_receipt())


def test_printing_to_a_file_writes_the_same_stream(tmp_path: Path) -> None:
    target = tmp_path / "printer.bin"
    receipt = _receipt()
    print_receipt(receipt, str(target))
    assert target.read_bytes() == render_escpos(receipt)


def test_text_preview_content() -> None:
    text = render_text(_receipt(reprint=True, sandbox=True))
    assert "*** REPRINT ***" in text and "SANDBOX" in text
    assert "TOTAL" in text and "¥23.50" in text and "Coffee 咖啡 x2" in text and "¥20.00" in text
    assert "4200002026112212300512345678" in text and "**************1234" in text
    assert all(display_width(line) <= 42 for line in text.splitlines())


def test_cash_change() -> None:
    receipt = _receipt(channel=Channel.CASH, tendered_fen=5000)
    assert receipt.change_fen == 2650
    assert "Change" in render_text(receipt) and "¥26.50" in render_text(receipt)


def test_two_columns_never_cuts_the_amount() -> None:
    row = two_columns("A very long product description that goes on and on", "¥1,234.56")
    assert row.endswith("¥1,234.56") and display_width(row) <= 42


def test_receipt_has_everything_and_masks_the_code() -> None:
    """A sale typed as one amount: its subject is its line; a full payment code is masked when shown."""
    receipt = Receipt(
        store_name="Demo Store",
        terminal_name="Till 1",
        cashier="Demo Cashier",
        at=datetime(2026, 11, 22, 14, 5, 9),
        out_trade_no="P261122140509S00001T00100000001",
        amount_fen=1250,
        channel=Channel.WECHAT,
        lines=receipt_lines((), "Coffee", 1250),
        transaction_id="4200000001",
        masked_auth_code="134567890123456789",
    )
    text = render_text(receipt)
    for needle in ("Demo Store", "Demo Cashier", "2026-11-22 14:05:09", "¥12.50", "WeChat Pay", "4200000001", "Coffee"):
        assert needle in text
    assert "134567890123456789" not in text
    assert "**************6789" in text
    assert all(display_width(line) <= WIDTH for line in text_lines(receipt))


def test_wide_characters_line_up() -> None:
    """A Chinese store name is centred and a Chinese item's amount ends at column 42, as ASCII ones do."""
    lines = text_lines(_receipt(store_name="上海店"))
    assert lines[0] == " " * 18 + "上海店"
    assert "Coffee 咖啡 x2" in lines[7] and display_width(lines[7]) == WIDTH and lines[7].endswith("¥20.00")
