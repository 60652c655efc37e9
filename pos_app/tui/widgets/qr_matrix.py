"""A QR code drawn with half-block characters, dark on light whatever the terminal theme.

Each text row holds two module rows: ``▀`` with the top module's colour as foreground and the bottom
module's as background. Colours are explicit (black on white), so a dark terminal theme cannot
invert the code — phones only read dark-on-light codes reliably. A quiet zone of 4 modules surrounds
the code (the QR standard's minimum). Error correction is the strongest level that still fits the
space given, so a code in an 80×24 terminal stays readable from a scratched screen.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.util
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q
from rich.segment import Segment
from rich.style import Style

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


# --- choosing the mask, fast -------------------------------------------------------------------
#
# The QR standard has the encoder try all eight mask patterns and keep the one with the lowest
# penalty score. ``qrcode`` builds the symbol eight times and scores each with module-by-module
# Python loops, on the cashier's path from the key to the QR on screen (a 100 ms budget).
# :func:`penalty` computes exactly the same score (the same four rules, the same arithmetic — unit
# tests check equality with ``qrcode.util.lost_point`` and that codes are module for module what
# qrcode builds) with a few dozen operations on two big integers holding the grid row by row and
# column by column, one bit per module: runs, 2×2 blocks and finder-like patterns become shifts,
# ANDs and bit counts; :class:`_QRCode` also builds the symbol once (tests/bench/bench_qr_build.py).

_AS_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
#: The 1:1:3:1:1 finder-like patterns the standard penalises (with four light modules after or before).
_FINDER_LIKE = ((1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0), (0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1))


def _bits(lines: list[bytes]) -> int:
    """Lines of 0/1 bytes as one integer: bit ``i * n + c`` is module ``c`` of line ``i``."""
    return int(b"".join(lines).translate(_AS_DIGITS)[::-1], 2)


@functools.cache
def _where(n: int, lines: int, columns: range) -> int:
    """A mask with the bits of ``columns`` set in each of the first ``lines`` lines (stride ``n``)."""
    one_line = sum(1 << c for c in columns)
    return sum(one_line << (i * n) for i in range(lines))


def _runs_score(grid: int, n: int) -> int:
    """Rule 1 along the lines of ``grid``: each run of L >= 5 same-coloured modules scores L - 2."""
    same_as_next = ~(grid ^ (grid >> 1)) & _where(n, n, range(n - 1))  # never across a line's end
    # A run of L modules is L - 1 consecutive set bits; windows of 4 set bits count (L - 1) - 3.
    windows = same_as_next & (same_as_next >> 1) & (same_as_next >> 2) & (same_as_next >> 3)
    run_starts = windows & ~(windows << 1)
    return windows.bit_count() + 2 * run_starts.bit_count()  # sum of (L - 4) + 2 per run = L - 2


def _finder_like_count(grid: int, n: int) -> int:
    """Rule 3 along the lines of ``grid``: how many times either pattern starts somewhere."""
    count = 0
    for pattern in _FINDER_LIKE:
        found = _where(n, n, range(n - 10))
        for k, dark in enumerate(pattern):
            found &= (grid >> k) if dark else ~(grid >> k)
        count += found.bit_count()
    return count


def _grid_bits(modules: Sequence[Sequence[bool | None]]) -> tuple[int, int]:
    """(by rows, by columns) bit forms of a module grid (None counts as light)."""
    rows = [bytes(map(bool, row)) for row in modules]  # one byte per module: 1 dark, 0 light
    return _bits(rows), _bits([bytes(column) for column in zip(*rows, strict=True)])


def _score(by_rows: int, by_columns: int, n: int) -> int:
    score = _runs_score(by_rows, n) + _runs_score(by_columns, n)
    # Rule 2: each 2×2 block of one colour scores 3.
    same_below = ~(by_rows ^ (by_rows >> n))
    same_right = ~(by_rows ^ (by_rows >> 1))
    blocks = same_below & (same_below >> 1) & same_right & _where(n, n - 1, range(n - 1))
    score += 3 * blocks.bit_count()
    score += 40 * (_finder_like_count(by_rows, n) + _finder_like_count(by_columns, n))
    # Rule 4: 10 per full 5 % the dark share is away from half (float arithmetic as qrcode does it).
    percent = float(by_rows.bit_count()) / (n**2)
    return score + int(abs(percent * 100 - 50) / 5) * 10


def penalty(modules: Sequence[Sequence[bool | None]]) -> int:
    """The mask penalty score of a module grid, equal to ``qrcode.util.lost_point(modules)``."""
    return _score(*_grid_bits(modules), len(modules))


@functools.cache
def _mask_bits(n: int, pattern: int) -> tuple[int, int]:
    """(by rows, by columns) bits of the cells mask ``pattern`` flips in an n×n symbol."""
    flips = qrcode.util.mask_func(pattern)
    return _grid_bits([[bool(flips(row, col)) for col in range(n)] for row in range(n)])


class _QRCode(qrcode.QRCode):  # type: ignore[misc]  # qrcode ships no type information
    """``qrcode.QRCode`` choosing the same mask as qrcode does, in a fraction of the time.

    qrcode builds the whole symbol once per candidate mask and scores it module by module. Here
    it is built once (mask 0, test mode: format and version areas light whatever the mask); the
    other seven candidates differ from it only on the data cells, by the XOR of two mask patterns,
    so each is derived with a few integer operations and scored by :func:`penalty`'s rules.
    """

    _data_cells: list[tuple[int, int]] | None = None

    def map_data(self, data: Any, mask_pattern: int) -> None:
        # The cells still empty when the data is placed are the data cells (the ones masks flip).
        self._data_cells = [
            (row, col) for row, line in enumerate(self.modules) for col, cell in enumerate(line) if cell is None
        ]
        super().map_data(data, mask_pattern)

    def best_mask_pattern(self) -> int:
        self.makeImpl(True, 0)
        n = self.modules_count
        cells = self._data_cells or []
        data_rows, data_columns = 0, 0
        for row, col in cells:
            data_rows |= 1 << (row * n + col)
            data_columns |= 1 << (col * n + row)
        base_rows, base_columns = _grid_bits(self.modules)
        mask0_rows, mask0_columns = _mask_bits(n, 0)
        best_pattern, best_score = 0, 0
        for pattern in range(8):
            mask_rows, mask_columns = _mask_bits(n, pattern)
            by_rows = base_rows ^ (data_rows & (mask0_rows ^ mask_rows))
            by_columns = base_columns ^ (data_columns & (mask0_columns ^ mask_columns))
            score = _score(by_rows, by_columns, n)
            if pattern == 0 or score < best_score:  # the first lowest wins, as in qrcode
                best_pattern, best_score = pattern, score
        return best_pattern

    def make(self, fit: bool = True) -> None:
        """Build the symbol once, not twice: the mask is chosen on the test build (mask 0), then
        applied to that build's data cells in place and the real format (and version) bits written,
        which is exactly what qrcode's second build with the chosen mask makes (tests compare the two
        module for module). Saves a whole build between the engine's answer and the QR."""
        if fit or self.version is None:
            self.best_fit(start=self.version)
        pattern = self.best_mask_pattern()
        if pattern != 0:
            flips, mask0 = qrcode.util.mask_func(pattern), qrcode.util.mask_func(0)
            modules = self.modules
            for row, col in self._data_cells or ():
                if bool(flips(row, col)) != bool(mask0(row, col)):
                    modules[row][col] = not modules[row][col]
        self.setup_type_info(False, pattern)
        if self.version >= 7:
            self.setup_type_number(False)


def make_matrix(data: str, *, max_width: int = 78, max_rows: int = 22) -> QrMatrix:
    """The QR for ``data`` with the strongest error correction that fits ``max_width`` × ``max_rows``."""
    for name, level in LEVELS:
        qr = _QRCode(error_correction=level, border=QUIET_ZONE, box_size=1)
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


def largest_size(max_width: int, max_rows: int) -> int:
    """Modules across (quiet zone included) of the largest QR that fits: what a code area reserves."""
    version = min(40, (min(max_width, 2 * max_rows) - 17 - 2 * QUIET_ZONE) // 4)
    return max(0, version) * 4 + 17 + 2 * QUIET_ZONE if version >= 1 else min(max_width, 2 * max_rows)


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


def _cell_styles() -> dict[tuple[bool, bool], Style]:
    return {
        (upper, lower): Style(color=DARK if upper else LIGHT, bgcolor=DARK if lower else LIGHT)
        for upper in (True, False)
        for lower in (True, False)
    }


def segment_rows(matrix: QrMatrix) -> list[list[Segment]]:
    """One list of segments per text row: '▀' cells, runs of one style merged into one segment.

    What the widget draws line by line (Textual's line API): no rich Text to lay out and wrap,
    and a few dozen segments per row instead of one per cell.
    """
    styles = _cell_styles()
    modules = matrix.modules
    blank = (False,) * matrix.size
    out: list[list[Segment]] = []
    for top in range(0, matrix.size, 2):
        upper_row = modules[top]
        lower_row = modules[top + 1] if top + 1 < matrix.size else blank
        segments: list[Segment] = []
        run_key = (upper_row[0], lower_row[0])
        run_length = 0
        for key in zip(upper_row, lower_row, strict=True):
            if key == run_key:
                run_length += 1
                continue
            segments.append(Segment("▀" * run_length, styles[run_key]))
            run_key, run_length = key, 1
        segments.append(Segment("▀" * run_length, styles[run_key]))
        out.append(segments)
    return out


def decode_half_blocks(lines: list[str]) -> list[list[bool]]:
    """Inverse of :func:`half_block_lines` (tests rebuild the module grid from a screen capture)."""
    grid: list[list[bool]] = []
    for line in lines:
        grid.append([c in "█▀" for c in line])
        grid.append([c in "█▄" for c in line])
    return grid
