"""A bill's field texts as exact integers: yuan amounts to fen, fees to millifen, times of day to HHMMSS."""

from __future__ import annotations

import re

from pos_app.domain.errors import AmountError
from pos_app.domain.money import yuan_to_fen


def fen(text: str) -> int:
    """A bill amount in yuan (``"12.30"``, ``"-0.04"``) to int fen, exactly; AmountError otherwise.

    The fast path covers the bills' own form (exactly two decimals); anything else goes through
    the domain's strict parser, which accepts ``"12"``/``"12.3"`` and refuses the rest.
    """
    if text == "0.00":
        return 0
    if len(text) >= 4 and text[-3] == "." and text.isascii():
        digits = text[:-3] + text[-2:]
        if digits.isdigit() or (digits[0] == "-" and digits[1:].isdigit()):
            return int(digits)
    return yuan_to_fen(text)


_MILLI = re.compile(r"(-?)(\d+)(?:\.(\d{1,5}))?", re.ASCII)


def millifen(text: str) -> int:
    """A fee in yuan with up to five decimals (``"0.00600"``) to int millifen (1e-5 yuan)."""
    if text in ("0.00000", "0.00"):
        return 0
    if len(text) >= 7 and text[-6] == "." and text.isascii():
        digits = text[:-6] + text[-5:]
        if digits.isdigit() or (digits[0] == "-" and digits[1:].isdigit()):
            return int(digits)
    match = _MILLI.fullmatch(text.strip())
    if match is None:
        raise AmountError(f"{text!r} is not a fee amount.")
    value = int(match.group(2)) * 100_000 + int((match.group(3) or "0").ljust(5, "0"))
    return -value if match.group(1) else value


def millifen_to_fen(value: int) -> int:
    """Round millifen to fen, half away from zero (only for display totals; sums stay exact)."""
    sign = -1 if value < 0 else 1
    return sign * ((abs(value) + 500) // 1000)


def format_millifen(value: int) -> str:
    """``600`` → ``"0.00600"`` (yuan with five decimals, as WeChat prints fees)."""
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 100_000)
    return f"{sign}{whole}.{part:05d}"


def hms_of(text: str) -> int:
    """``"2026-11-21 09:15:02"`` → 91502 (HHMMSS); ValueError if the text is not that form."""
    if len(text) != 19 or text[10] != " " or text[13] != ":" or text[16] != ":" or not text.isascii():
        raise ValueError(text)
    digits = text[11:13] + text[14:16] + text[17:19]
    if not digits.isdigit() or digits[0] > "2" or digits[2] > "5" or digits[4] > "5" or digits > "235959":
        raise ValueError(text)
    return int(digits)


def hms_seconds(hms: int) -> int:
    """91502 (09:15:02) → 33302 seconds after midnight."""
    return hms // 10000 * 3600 + hms // 100 % 100 * 60 + hms % 100
