"""One receipt, byte for byte: the text the result and reprint screens show and the ESC/POS stream the
printer gets, for a cash sale with a Chinese store name and item and change due, with English labels
and with Chinese ones. Regenerate (after reading the diff) with ``POS_UPDATE_GOLDEN=1``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from pos_app import i18n
from pos_app.domain.routing import Channel
from pos_app.receipts.escpos import render_escpos
from pos_app.receipts.model import Receipt, ReceiptLine
from pos_app.receipts.text import WIDTH, body_lines, display_width, render_text

GOLDEN = Path(__file__).parent / "golden"

SAMPLE = Receipt(
    store_name="Demo Store 上海店",
    terminal_name="Till 1",
    cashier="Demo Cashier",
    at=datetime(2026, 11, 22, 12, 30, 5),
    out_trade_no="C261122123005S00001T00100000007",
    amount_fen=3750,
    channel=Channel.CASH,
    lines=(ReceiptLine("Flat white 馥芮白", 2, 1850), ReceiptLine("Mooncake 月饼", 1, 50)),
    tendered_fen=5000,
)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """English labels unless a test chooses Chinese (whatever the machine's locale)."""
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def _golden(name: str, content: bytes) -> bytes:
    path = GOLDEN / name
    if os.environ.get("POS_UPDATE_GOLDEN"):
        path.write_bytes(content)
    return path.read_bytes()


def test_screen_text_is_golden() -> None:
    text = render_text(SAMPLE)
    assert text.encode("utf-8") == _golden("cash_chinese.txt", text.encode("utf-8"))
    assert all(display_width(line) <= WIDTH for line in text.splitlines())
    assert "Change" in text and "¥12.50" in text


def test_escpos_bytes_are_golden_and_carry_the_same_body() -> None:
    stream = render_escpos(SAMPLE)
    assert stream == _golden("cash_chinese.escpos", stream)
    # The printer's body is the screen's body, line for line (ASCII lines byte for byte).
    for line in body_lines(SAMPLE):
        if line.isascii():
            assert line.encode("ascii") + b"\n" in stream


def test_chinese_labels_are_golden_on_screen_and_paper() -> None:
    i18n.set_language("zh_CN")
    text = render_text(SAMPLE)
    assert text.encode("utf-8") == _golden("cash_chinese_zh_CN.txt", text.encode("utf-8"))
    assert all(display_width(line) <= WIDTH for line in text.splitlines())
    for label in ("订单号", "收银员", "合计", "支付方式", "现金", "实收", "找零", "谢谢惠顾"):
        assert label in text
    assert "¥12.50" in text and "Change" not in text
    stream = render_escpos(SAMPLE)
    assert stream == _golden("cash_chinese_zh_CN.escpos", stream)
    assert "找零".encode("gb18030") in stream
