"""The X/Z report text (`pos report`, the dashboard's report screen) in Chinese: every label from the
catalog, the columns still lined up in terminal cells."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rich.cells import cell_len

from pos_app import i18n
from pos_app.cells import wrap
from pos_app.terminal.report_text import render_text


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    i18n.set_language("en")


def figures(count: int, fen: int) -> dict[str, int]:
    return {
        "sales_count": count,
        "sales_fen": fen,
        "refunds_count": 0,
        "refunds_fen": 0,
        "voids_count": 0,
        "voids_fen": 0,
        "net_fen": fen,
    }


CONTENT: dict[str, Any] = {
    "report": "Z",
    "number": 3,
    "business_day": "2026-11-22",
    "terminal_id": "T001",
    "channels": {"wechat": figures(2, 16000), "cash": figures(1, 1950)},
    "total": figures(3, 17950),
    "cashiers": {"王小明": figures(3, 17950)},
    "hours": {"09": {"sales_count": 3, "sales_fen": 17950}},
    "first_receipt": "P1",
    "last_receipt": "P3",
    "cash": {"expected_fen": 11950, "counted_fen": 11900, "difference_fen": -50, "open_shifts": 1},
    "unsettled_payments": [{"out_trade_no": "P4"}],
}


def test_the_z_report_in_chinese() -> None:
    i18n.set_language("zh_CN")
    text = render_text(CONTENT)
    lines = text.splitlines()
    assert lines[0] == "Z 报表 #3 · 营业日 2026-11-22 · 收银台 T001"
    for label in ("按渠道", "按收银员", "按小时", "笔数", "退款", "撤销", "净额", "微信支付", "现金", "合计"):
        assert label in text
    assert "现金：应有 ¥119.50 · 实点 ¥119.00 · 差额 -¥0.50 · 1 个班次尚未交班" in text
    assert "1 笔支付/退款尚未完成结算。" in text
    # Every row of a table ends in the same cell column as its header, wide characters included.
    table = [line for line in lines if line.startswith(("微信支付", "现金 ", "合计", "王小明")) or "净额" in line]
    assert len(table) == 6
    assert {cell_len(line) for line in table} == {74}


def test_the_z_report_in_english_is_unchanged() -> None:
    text = render_text(CONTENT)
    assert text.splitlines()[0] == "Z report #3 · Day 2026-11-22 · terminal T001"
    assert "By channel\n           sales      amount refunds    amount voids    amount         net\n" in text
    assert "WeChat Pay     2     ¥160.00       0     ¥0.00     0     ¥0.00     ¥160.00\n" in text
    assert "\nFirst receipt: P1\nLast receipt:  P3\n" in text
    assert "Cash: expected ¥119.50 · counted ¥119.00 · difference -¥0.50 · 1 shift(s) still open" in text


def test_alert_lines_wrap_within_the_report_in_cells() -> None:
    """An open alert's line is wrapped at spaces, a run of Chinese where it reaches the edge."""
    assert wrap("Order P1: ¥8.80 PAID (you saw: cancelled)", 20) == ["Order P1: ¥8.80 PAID", "(you saw: cancelled)"]
    chinese = wrap("订单 P261205131938S00001T00100000002：¥8.80 已支付（您看到的是：已取消）", 24)
    assert all(cell_len(line) <= 24 for line in chinese)
    assert "".join(chinese).replace(" ", "") == "订单P261205131938S00001T00100000002：¥8.80已支付（您看到的是：已取消）"


def test_the_report_lists_open_alerts_with_what_to_do() -> None:
    alert = {
        "id": 7,
        "alert": "refund_failed",
        "out_trade_no": "P9",
        "amount_fen": 500,
        "saw": "refund_pending",
        "became": "FAILED",
        "at": "2026-11-22T09:00:00+00:00",
        "out_refund_no": "R9",
    }
    text = render_text({**CONTENT, "open_alerts": [alert]})
    assert (
        "\n1 open alert(s): money that ended differently from what the cashier saw\n"
        "  ! Order P9: refund of ¥5.00 FAILED (you saw: refund on its way)\n"
        "    to do: send the refund again (F4 Attention, manager PIN)\n"
    ) in text
    assert "open alert" not in render_text(CONTENT)
