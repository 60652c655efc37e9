"""The amount being typed on the checkout screen: digits, one decimal point, backspace.

The buffer only refuses keys that can never lead to a valid amount (a second '.', a third decimal,
absurd length); whether the text IS an amount is decided by ``pos_app.domain.money.parse_amount``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pos_app.domain.money import DEFAULT_MAX_SALE_FEN, parse_amount

MAX_CHARS = 12


@dataclass(slots=True)
class AmountBuffer:
    text: str = ""

    def press(self, key: str) -> bool:
        """Apply one key (``0``–``9``, ``.``, ``backspace``); False if it was refused."""
        if key == "backspace":
            if not self.text:
                return False
            self.text = self.text[:-1]
            return True
        if key in {".", "full_stop"}:
            if "." in self.text or len(self.text) >= MAX_CHARS:
                return False
            self.text = (self.text or "0") + "."
            return True
        if len(key) == 1 and key.isdigit() and key.isascii():
            if "." in self.text and len(self.text.split(".", 1)[1]) >= 2:
                return False
            if len(self.text) >= MAX_CHARS:
                return False
            self.text = key if self.text == "0" else self.text + key
            return True
        return False

    def clear(self) -> None:
        self.text = ""

    def fen(self, *, max_fen: int = DEFAULT_MAX_SALE_FEN) -> int:
        """The amount in fen, or AmountError saying why not."""
        return parse_amount(self.text, max_fen=max_fen)
