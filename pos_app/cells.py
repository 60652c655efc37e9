"""Text laid out in terminal cells, where a Chinese character takes two (``len()`` counts it as one)."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size


def width(text: str) -> int:
    """The cells ``text`` takes on a terminal."""
    return cell_len(text)


def pad(text: str, cells: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``cells`` (on the left when ``right``); never cut."""
    fill = " " * max(0, cells - cell_len(text))
    return fill + text if right else text + fill


def cut(text: str, cells: int) -> str:
    """``text`` cut to at most ``cells`` (a wide character that would straddle the edge is left out)."""
    return set_cell_size(text, cells).rstrip() if cell_len(text) > cells else text


def wrap(text: str, cells: int) -> list[str]:
    """``text`` in lines of at most ``cells``, broken at spaces; a word wider than a line (a run of
    Chinese has no spaces) is broken where it reaches the edge."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if cell_len(candidate) <= cells:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while cell_len(line) > cells:
            head = set_cell_size(line, cells).rstrip()
            head = head or line[0]  # one character wider than the line: give it a line of its own
            lines.append(head)
            line = line[len(head) :]
    if line:
        lines.append(line)
    return lines
