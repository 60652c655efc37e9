"""What a receipt says, independent of where it is shown or printed. Pure data, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pos_app.domain.routing import Channel


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
    #: The customer's payment code, masked to its last 4 digits (a full code is masked when shown).
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


def receipt_lines(items: Iterable[ReceiptLine], subject: str, amount_fen: int) -> tuple[ReceiptLine, ...]:
    """A sale's lines on its receipt: its items, or (a sale typed as one amount) its subject."""
    lines = tuple(items)
    if not lines and subject:
        return (ReceiptLine(subject, 1, amount_fen),)
    return lines
