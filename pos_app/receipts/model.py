"""What a receipt says, independent of where it is shown. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel

WIDTH = 42  # characters on an 80 mm printer in font A; also the on-screen preview width


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    description: str
    quantity: int
    unit_price_fen: int

    @property
    def total_fen(self) -> int:
        return self.quantity * self.unit_price_fen


@dataclass(frozen=True, slots=True)
class Receipt:
    store_name: str
    terminal_name: str
    cashier: str
    at: datetime
    out_trade_no: str
    amount_fen: int
    channel: Channel
    lines: tuple[ReceiptLine, ...] = ()
    transaction_id: str | None = None
    masked_auth_code: str | None = None
    tendered_fen: int | None = None  # cash only
    refunded_fen: int = 0
    reprint: bool = False
    sandbox: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def change_fen(self) -> int | None:
        return None if self.tendered_fen is None else self.tendered_fen - self.amount_fen

    @property
    def qr_content(self) -> str:
        """The QR printed at the bottom: the gateway transaction id, else our order number."""
        return self.transaction_id or self.out_trade_no


def display_width(text: str) -> int:
    """Columns a string takes on a receipt: CJK characters are double width."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def two_columns(left: str, right: str, width: int = WIDTH) -> str:
    gap = width - display_width(left) - display_width(right)
    if gap < 1:
        # Keep the amount whole: shorten the description, never the money.
        while left and display_width(left) + display_width(right) + 2 > width:
            left = left[:-1]
        left += "…"
        gap = max(1, width - display_width(left) - display_width(right))
    return left + " " * gap + right


def body_lines(receipt: Receipt) -> list[str]:
    """The receipt's text between header and QR, shared by screen and printer renderings."""
    rows = [
        two_columns("Order", receipt.out_trade_no),
        two_columns("Time", f"{receipt.at:%Y-%m-%d %H:%M:%S}"),
        two_columns("Cashier", receipt.cashier),
        two_columns("Till", receipt.terminal_name),
        "-" * WIDTH,
    ]
    for line in receipt.lines:
        label = line.description if line.quantity == 1 else f"{line.description} x{line.quantity}"
        rows.append(two_columns(label, format_fen(line.total_fen)))
    if receipt.lines:
        rows.append("-" * WIDTH)
    rows.append(two_columns("TOTAL", format_fen(receipt.amount_fen)))
    rows.append(two_columns("Paid by", receipt.channel.label))
    if receipt.tendered_fen is not None and receipt.change_fen is not None:
        rows.append(two_columns("Tendered", format_fen(receipt.tendered_fen)))
        rows.append(two_columns("Change", format_fen(receipt.change_fen)))
    if receipt.transaction_id:
        rows.append(two_columns("Txn", receipt.transaction_id))
    if receipt.masked_auth_code:
        rows.append(two_columns("Code", receipt.masked_auth_code))
    if receipt.refunded_fen:
        rows.append(two_columns("Refunded", format_fen(-receipt.refunded_fen)))
    rows.extend(receipt.notes)
    return rows


def render_text(receipt: Receipt) -> str:
    """The on-screen preview: the same content as the printed receipt, without the QR."""
    header = [receipt.store_name.center(WIDTH).rstrip()]
    if receipt.reprint:
        header.append("*** REPRINT ***".center(WIDTH).rstrip())
    if receipt.sandbox:
        header.append("SANDBOX — NOT A REAL PAYMENT".center(WIDTH).rstrip())
    return "\n".join([*header, "", *body_lines(receipt), "", "Thank you!".center(WIDTH).rstrip()])
