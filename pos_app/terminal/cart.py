"""What the cashier is selling: item lines (description, quantity, unit price), their running total
in fen, and the draft a sale starts from."""

from __future__ import annotations

from dataclasses import dataclass, field

from pos_app.domain.errors import AmountError, InputError
from pos_app.domain.money import DEFAULT_MAX_SALE_FEN, format_fen, parse_amount

MAX_QUANTITY = 9999


@dataclass(frozen=True, slots=True)
class ItemLine:
    description: str
    quantity: int
    unit_fen: int

    @property
    def total_fen(self) -> int:
        return self.quantity * self.unit_fen

    def as_dict(self) -> dict[str, object]:
        return {"description": self.description, "quantity": self.quantity, "unit_fen": self.unit_fen}


def make_line(description: str, quantity: str, unit_price: str, *, max_fen: int = DEFAULT_MAX_SALE_FEN) -> ItemLine:
    """Build a line from what the cashier typed, or InputError/AmountError with the reason."""
    text = description.strip()
    if not text:
        raise InputError("Give the item a description.")
    if len(text) > 60:
        raise InputError("Keep the description under 60 characters.")
    qty_text = quantity.strip() or "1"
    if not qty_text.isdigit() or not qty_text.isascii():
        raise InputError("Quantity must be a whole number, e.g. 2.")
    qty = int(qty_text)
    if not 0 < qty <= MAX_QUANTITY:
        raise InputError(f"Quantity must be 1–{MAX_QUANTITY}.")
    unit = parse_amount(unit_price, max_fen=max_fen)
    return ItemLine(text, qty, unit)


@dataclass(slots=True)
class Cart:
    lines: list[ItemLine] = field(default_factory=list)

    @property
    def total_fen(self) -> int:
        return sum(line.total_fen for line in self.lines)

    def add(self, line: ItemLine, *, max_fen: int = DEFAULT_MAX_SALE_FEN) -> None:
        if self.total_fen + line.total_fen > max_fen:
            raise AmountError(f"The sale would go over the per-sale limit of {format_fen(max_fen)}.")
        self.lines.append(line)

    def remove_last(self) -> ItemLine | None:
        return self.lines.pop() if self.lines else None

    def clear(self) -> None:
        self.lines.clear()

    def subject(self, fallback: str) -> str:
        """The payment subject shown in the customer's wallet: the items, shortened."""
        if not self.lines:
            return fallback
        first = self.lines[0].description
        more = len(self.lines) - 1
        text = first if more == 0 else f"{first} +{more} more"
        return text[:127]


@dataclass(slots=True)
class SaleDraft:
    """What the cashier is selling: an amount (typed or summed from lines), a subject, the lines."""

    amount_fen: int
    subject: str
    lines: list[ItemLine] = field(default_factory=list)
