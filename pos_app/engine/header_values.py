"""Numbers read from HTTP header values: ASCII digits only, bounded length, or nothing.

``str.isdigit`` is true for ``"²"`` and other Unicode digits that ``int`` refuses (and ``int`` takes
full-width digits a gateway never sends): a header is a number here only if it is plain ASCII digits.
"""

from __future__ import annotations

#: Longer than any timestamp, length or event id the engine takes (and int() of it stays cheap).
MAX_DIGITS = 19


def header_int(value: str | None, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The non-negative integer ``value`` spells (surrounding spaces allowed), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)
