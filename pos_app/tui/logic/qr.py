"""A QR code drawn with half-block characters, dark on light whatever the terminal theme.

Each text row holds two module rows: ``▀`` with the top module's colour as foreground and the bottom
module's as background. Colours are explicit (black on white), so a dark terminal theme cannot
invert the code — phones only read dark-on-light codes reliably. A quiet zone of 4 modules surrounds
the code (the QR standard's minimum). Error correction is the strongest level that still fits the
space given, so a code in an 80×24 terminal stays readable from a scratched screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q
from rich.style import Style
from rich.text import Text

QUIET_ZONE = 4
DARK = "#000000"
LIGHT = "#ffffff"
#: Strongest first: H restores 30 % damage, Q 25 %, M 15 %, L 7 %.
LEVELS: tuple[tuple[str, int], ...] = (
    ("H", ERROR_CORRECT_H),
    ("Q", ERROR_CORRECT_Q),
    ("M", ERROR_CORRECT_M),
    ("L", ERROR_CORRECT_L),
)


class QrTooLarge(ValueError):
    """The data does not fit in the space, even at the lowest error correction."""


@dataclass(frozen=True, slots=True)
class QrMatrix:
    modules: tuple[tuple[bool, ...], ...]  # True = dark, quiet zone included
    level: str
    version: int

    @property
    def size(self) -> int:
        return len(self.modules)

    @property
    def rows(self) -> int:
        """Text rows needed (two modules per row)."""
        return (self.size + 1) // 2


def make_matrix(data: str, *, max_width: int = 78, max_rows: int = 22) -> QrMatrix:
    """The QR for ``data`` with the strongest error correction that fits ``max_width`` × ``max_rows``."""
    for name, level in LEVELS:
        qr = qrcode.QRCode(error_correction=level, border=QUIET_ZONE, box_size=1)
        qr.add_data(data)
        # Only the version is needed to know the size: building the matrix (and scoring its eight
        # masks) is the slow part, so it is done once, for the level that fits.
        version = qr.best_fit()
        size = version * 4 + 17 + 2 * QUIET_ZONE
        if size <= max_width and (size + 1) // 2 <= max_rows:
            qr.make(fit=False)
            matrix = qr.get_matrix()
            return QrMatrix(tuple(tuple(bool(m) for m in row) for row in matrix), name, int(qr.version))
    raise QrTooLarge(f"A {len(data)}-character code does not fit in {max_width}×{max_rows}.")


def half_block_lines(matrix: QrMatrix) -> list[str]:
    """Plain-text form (for captures and tests): '█' both dark, '▀' top dark, '▄' bottom dark, ' ' light."""
    lines: list[str] = []
    modules = matrix.modules
    for top in range(0, matrix.size, 2):
        chars = []
        for col in range(matrix.size):
            upper = modules[top][col]
            lower = modules[top + 1][col] if top + 1 < matrix.size else False
            chars.append(
                {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}[(upper, lower)]
            )
        lines.append("".join(chars))
    return lines


def render(matrix: QrMatrix) -> Text:
    """Rich text: every cell is '▀' with explicit foreground (top) and background (bottom) colours."""
    text = Text(no_wrap=True, overflow="crop")
    styles = {
        (upper, lower): Style(color=DARK if upper else LIGHT, bgcolor=DARK if lower else LIGHT)
        for upper in (True, False)
        for lower in (True, False)
    }
    modules = matrix.modules
    for top in range(0, matrix.size, 2):
        if top:
            text.append("\n")
        for col in range(matrix.size):
            upper = modules[top][col]
            lower = modules[top + 1][col] if top + 1 < matrix.size else False
            text.append("▀", styles[(upper, lower)])
    return text


def decode_half_blocks(lines: list[str]) -> list[list[bool]]:
    """Inverse of :func:`half_block_lines` (tests rebuild the module grid from a screen capture)."""
    grid: list[list[bool]] = []
    for line in lines:
        grid.append([c in "█▀" for c in line])
        grid.append([c in "█▄" for c in line])
    return grid
