"""The receipt preview shown after a sale: store, cashier, time, items, amount, channel,
transaction id and the payment code masked to its last 4 digits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel, mask_code
from pos_app.tui.logic.cart import ItemLine

WIDTH = 42


@dataclass(frozen=True, slots=True)
class ReceiptData:
    store_name: str
    terminal_name: str
    cashier: str
    at: datetime
    out_trade_no: str
    amount_fen: int
    channel: Channel
    lines: tuple[ItemLine, ...] = field(default_factory=tuple)
    subject: str = ""
    transaction_id: str | None = None
    masked_auth_code: str | None = None
    tendered_fen: int | None = None
    sandbox: bool = False

    @property
    def change_fen(self) -> int | None:
        return None if self.tendered_fen is None else self.tendered_fen - self.amount_fen


def _pair(left: str, right: str, width: int = WIDTH) -> str:
    space = max(1, width - len(left) - len(right))
    return f"{left}{' ' * space}{right}"


def receipt_lines(receipt: ReceiptData, width: int = WIDTH) -> list[str]:
    rule = "-" * width
    lines = [receipt.store_name.center(width).rstrip()]
    if receipt.sandbox:
        lines.append("SANDBOX - NOT A REAL PAYMENT".center(width).rstrip())
    lines += [
        _pair(receipt.terminal_name, f"{receipt.at:%Y-%m-%d %H:%M:%S}", width),
        f"Cashier: {receipt.cashier}",
        f"Order: {receipt.out_trade_no}",
        rule,
    ]
    if receipt.lines:
        for item in receipt.lines:
            lines.append(item.description[:width])
            lines.append(_pair(f"  {item.quantity} x {format_fen(item.unit_fen)}", format_fen(item.total_fen), width))
    else:
        lines.append(_pair(receipt.subject[: width - 14] or "Sale", format_fen(receipt.amount_fen), width))
    lines += [
        rule,
        _pair("TOTAL", format_fen(receipt.amount_fen), width),
        _pair("Paid by", receipt.channel.label, width),
    ]
    if receipt.tendered_fen is not None:
        lines.append(_pair("Cash tendered", format_fen(receipt.tendered_fen), width))
        lines.append(_pair("Change", format_fen(receipt.tendered_fen - receipt.amount_fen), width))
    if receipt.transaction_id:
        lines.append(f"Txn: {receipt.transaction_id}"[:width])
    if receipt.masked_auth_code:
        code = receipt.masked_auth_code if "*" in receipt.masked_auth_code else mask_code(receipt.masked_auth_code)
        lines.append(f"Code: {code}"[:width])
    lines.append(rule)
    lines.append("Thank you!".center(width).rstrip())
    return lines
