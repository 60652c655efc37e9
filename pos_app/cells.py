"""Text laid out in terminal cells, where a Chinese character takes two (``len()`` counts it as one)."""

from __future__ import annotations

from rich.cells import cell_len


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` cells (to the left when ``right``); never cut."""
    fill = " " * max(0, width - cell_len(text))
    return fill + text if right else text + fill
