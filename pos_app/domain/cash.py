"""Cash drawer arithmetic: counting by denomination and change. Integer fen only."""

from __future__ import annotations

from collections.abc import Mapping

from pos_app.domain.errors import AmountError
from pos_app.domain.money import format_fen

#: Renminbi notes and coins in circulation at a till, largest first (fen).
DENOMINATIONS_FEN: tuple[int, ...] = (10000, 5000, 2000, 1000, 500, 100, 50, 10)


def count_total(counts: Mapping[int, int]) -> int:
    """Total of a count by denomination, e.g. ``{10000: 2, 100: 3}`` → 20300 fen.

    Refuses unknown denominations and negative counts: a miscount must not slip into a shift.
    """
    total = 0
    for denomination, pieces in counts.items():
        if denomination not in DENOMINATIONS_FEN:
            raise AmountError("{amount} is not a Renminbi note or coin.", amount=format_fen(denomination))
        if pieces < 0:
            raise AmountError("A count cannot be negative.")
        total += denomination * pieces
    return total


def change_due(amount_fen: int, tendered_fen: int) -> int:
    """Change for a cash sale; refuses a tender below the amount."""
    if tendered_fen < amount_fen:
        raise AmountError(
            "Tendered {tendered} is less than {amount}.",
            tendered=format_fen(tendered_fen),
            amount=format_fen(amount_fen),
        )
    return tendered_fen - amount_fen
