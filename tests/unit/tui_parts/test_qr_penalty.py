"""The fast mask penalty is the QR standard's score exactly as ``qrcode`` computes it, so the code
drawn on screen is the one ``qrcode`` would have built (same mask, same modules)."""

from __future__ import annotations

import random

import qrcode
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_app.tui.widgets.qr_matrix import LEVELS, QUIET_ZONE, make_matrix, penalty


@settings(max_examples=300, deadline=None)
@given(size=st.integers(min_value=11, max_value=45), seed=st.integers(), dark=st.floats(0.0, 1.0))
def test_penalty_equals_qrcode_lost_point_on_any_grid(size: int, seed: int, dark: float) -> None:
    rng = random.Random(seed)  # a seeded grid: hypothesis shrinks size/seed/density, fast to draw
    grid = [[rng.random() < dark for _ in range(size)] for _ in range(size)]
    assert penalty(grid) == qrcode.util.lost_point(grid)


def test_penalty_counts_each_rule() -> None:
    # A 12×12 all-light grid: rule 1 (12 runs of 12 per direction: 24 × 10 = 240), rule 2
    # (11 × 11 blocks × 3 = 363), rule 3 (none: no dark module), rule 4 (0 % dark: 10 × 10 = 100).
    light = [[False] * 12 for _ in range(12)]
    assert penalty(light) == 240 + 363 + 100 == qrcode.util.lost_point(light)
    # One finder-like row: 10111010000 + a light module; it also breaks runs and blocks.
    finder = [[*map(bool, (1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0))]] + [[False] * 12 for _ in range(11)]
    assert penalty(finder) == qrcode.util.lost_point(finder)
    assert penalty(finder) - penalty(light) != 0


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=120))
def test_codes_are_module_for_module_what_qrcode_builds(data: str) -> None:
    matrix = make_matrix(data, max_width=200, max_rows=200)
    reference = qrcode.QRCode(error_correction=dict(LEVELS)[matrix.level], border=QUIET_ZONE, box_size=1)
    reference.add_data(data)
    reference.make(fit=True)
    assert reference.version == matrix.version
    assert [[bool(m) for m in row] for row in reference.get_matrix()] == [list(row) for row in matrix.modules]
