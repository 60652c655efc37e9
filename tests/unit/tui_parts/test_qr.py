"""The on-screen QR: half blocks, dark on light, quiet zone 4, strongest error correction that fits,
and it really decodes (rebuilt as an image from the text and read by pyzbar)."""

from __future__ import annotations

import pytest
from PIL import Image
from pyzbar import pyzbar

from pos_app.tui.widgets.qr_matrix import (
    DARK,
    LIGHT,
    QUIET_ZONE,
    QrTooLarge,
    decode_half_blocks,
    half_block_lines,
    make_matrix,
    segment_rows,
)

WECHAT_URL = "weixin://wxpay/bizpayurl?pr=Ab1Cd2Ef3"
ALIPAY_URL = "https://qr.alipay.com/bax03431ljhokirwl38f00a7"


def grid_to_image(grid: list[list[bool]], scale: int = 8) -> Image.Image:
    size = len(grid[0])
    image = Image.new("L", (size * scale, len(grid) * scale), 255)
    for y, row in enumerate(grid):
        for x, dark in enumerate(row):
            if dark:
                image.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    return image


@pytest.mark.parametrize("data", [WECHAT_URL, ALIPAY_URL])
def test_text_capture_decodes_back_to_the_code_url(data: str):
    matrix = make_matrix(data, max_width=46, max_rows=21)
    grid = decode_half_blocks(half_block_lines(matrix))
    decoded = pyzbar.decode(grid_to_image(grid))
    assert [d.data.decode() for d in decoded] == [data]


def test_quiet_zone_is_four_light_modules():
    matrix = make_matrix(WECHAT_URL)
    size = matrix.size
    for i in range(QUIET_ZONE):
        assert not any(matrix.modules[i]) and not any(matrix.modules[size - 1 - i])
        assert not any(row[i] for row in matrix.modules) and not any(row[size - 1 - i] for row in matrix.modules)
    assert any(matrix.modules[QUIET_ZONE])  # the finder pattern starts right after it


def test_fits_an_80x24_terminal_with_strongest_level_possible():
    # 80x24: the QR gets at most 21 text rows (42 modules) beside the amount panel.
    matrix = make_matrix(ALIPAY_URL, max_width=46, max_rows=21)
    assert matrix.rows <= 21 and matrix.size <= 46
    bigger = make_matrix(ALIPAY_URL, max_width=200, max_rows=200)
    assert bigger.level == "H"
    order = "HQML"
    assert order.index(matrix.level) >= order.index(bigger.level)
    # Nothing stronger would have fitted:
    if matrix.level != "H":
        stronger = order[order.index(matrix.level) - 1]
        import qrcode

        from pos_app.tui.widgets.qr_matrix import LEVELS

        qr = qrcode.QRCode(error_correction=dict(LEVELS)[stronger], border=QUIET_ZONE)
        qr.add_data(ALIPAY_URL)
        qr.make(fit=True)
        assert (len(qr.get_matrix()) + 1) // 2 > 21 or len(qr.get_matrix()) > 46


def test_too_large_is_refused():
    with pytest.raises(QrTooLarge):
        make_matrix("x" * 500, max_width=40, max_rows=20)


def test_render_uses_explicit_dark_on_light_colours():
    segments = [segment for row in segment_rows(make_matrix(WECHAT_URL)) for segment in row]
    colours = {(seg.style.color.name, seg.style.bgcolor.name) for seg in segments}  # type: ignore[union-attr]
    assert colours <= {(DARK, DARK), (DARK, LIGHT), (LIGHT, DARK), (LIGHT, LIGHT)}
    assert (LIGHT, LIGHT) in colours and (DARK, DARK) in colours
    assert set("".join(seg.text for seg in segments)) <= {"▀", "\n"}


@pytest.mark.parametrize("data", [WECHAT_URL, ALIPAY_URL])
def test_the_segments_the_widget_draws_decode_back_to_the_code_url(data: str):
    """What the screen gets: '▀' cells whose foreground is the upper module and background the lower."""
    matrix = make_matrix(data, max_width=46, max_rows=21)
    grid: list[list[bool]] = []
    for segments in segment_rows(matrix):
        upper: list[bool] = []
        lower: list[bool] = []
        for segment in segments:
            assert set(segment.text) == {"▀"}
            assert segment.style is not None and segment.style.color and segment.style.bgcolor
            upper += [segment.style.color.name == DARK] * len(segment.text)
            lower += [segment.style.bgcolor.name == DARK] * len(segment.text)
        assert len(upper) == matrix.size
        grid += [upper, lower]
    assert grid[: matrix.size] == [list(row) for row in matrix.modules]
    decoded = pyzbar.decode(grid_to_image(grid))
    assert [d.data.decode() for d in decoded] == [data]
