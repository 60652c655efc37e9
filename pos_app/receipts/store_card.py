"""The printable store QR card (台卡): store name, till, "Scan with WeChat or Alipay", the code.

One picture (Pillow) serves every output: saved as PNG or PDF, or sent to the receipt printer as an
ESC/POS raster image (:func:`print_card`). The wording is in both languages at once — the card stands
on the counter for every customer, whatever the till's language is set to.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

SCAN_EN = "Scan with WeChat or Alipay"
SCAN_ZH = "微信 / 支付宝 扫码付款"
ENTER_EN = "Type the amount on your phone and pay"
ENTER_ZH = "在手机上输入金额并付款"

#: Fonts that hold Chinese (Debian's Droid fallback, Noto CJK, WenQuanYi), first found wins; without
#: one the card falls back to Pillow's own font and prints the English lines only.
CJK_FONTS = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
#: Fonts for the Latin lines (the CJK fallback fonts often lack Latin glyphs), first found wins.
LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
)
#: Card width in pixels: 576 dots is the printable width of an 80 mm receipt printer at 203 dpi.
CARD_WIDTH = 576
MARGIN = 24


@dataclass(frozen=True, slots=True)
class StoreCard:
    store_name: str
    till_name: str
    url: str


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _first(paths: tuple[str, ...]) -> str | None:
    return next((path for path in paths if Path(path).is_file()), None)


def _font_path() -> str | None:
    return _first(CJK_FONTS)


def _font(size: int, *, cjk: bool) -> Font:
    path = _first(CJK_FONTS if cjk else LATIN_FONTS)
    if path is not None:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _runs(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into runs of wide (Chinese) and narrow characters, each drawn with its own font."""
    runs: list[tuple[str, bool]] = []
    for char in text:
        wide = _is_wide(char)
        if runs and runs[-1][1] == wide:
            runs[-1] = (runs[-1][0] + char, wide)
        else:
            runs.append((char, wide))
    return runs


def _qr_image(url: str, width: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, box_size=1)
    code.add_data(url)
    code.make(fit=True)
    modules = code.get_matrix()
    box = max(1, width // len(modules))
    image = Image.new("L", (len(modules) * box, len(modules) * box), 255)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle((x * box, y * box, (x + 1) * box - 1, (y + 1) * box - 1), fill=0)
    return image


def render_card(card: StoreCard) -> Image.Image:
    """The card as a black-and-white picture, CARD_WIDTH wide (centred lines, the code in the middle)."""
    chinese = _font_path() is not None
    lines: list[tuple[str, int]] = [(card.store_name, 40), (card.till_name, 28)]
    after: list[tuple[str, int]] = [(SCAN_EN, 30)]
    if chinese:
        after.append((SCAN_ZH, 30))
    after.append((ENTER_EN, 20))
    if chinese:
        after.append((ENTER_ZH, 20))
    code = _qr_image(card.url, CARD_WIDTH - 2 * MARGIN)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))

    def width(text: str, size: int) -> int:
        return sum(int(measure.textlength(run, font=_font(size, cjk=wide))) for run, wide in _runs(text))

    def height(size: int) -> int:
        return size + size // 2

    total = MARGIN * 2 + sum(height(s) for _t, s in lines + after) + code.height + MARGIN
    image = Image.new("L", (CARD_WIDTH, total), 255)
    draw = ImageDraw.Draw(image)
    y = MARGIN

    def write(text: str, size: int) -> None:
        nonlocal y
        x = float((CARD_WIDTH - width(text, size)) // 2)
        for run, wide in _runs(text):
            font = _font(size, cjk=wide)
            draw.text((x, y), run, font=font, fill=0)
            x += measure.textlength(run, font=font)
        y += height(size)

    for text, size in lines:
        write(text, size)
    y += MARGIN // 2
    image.paste(code, ((CARD_WIDTH - code.width) // 2, y))
    y += code.height + MARGIN // 2
    for text, size in after:
        write(text, size)
    return image.convert("1")


def save_card(image: Image.Image, out: Path) -> None:
    """Write the card as PNG or PDF (by the file's suffix); anything else is refused."""
    suffix = out.suffix.lower()
    if suffix == ".png":
        image.save(out, format="PNG")
    elif suffix == ".pdf":
        image.convert("RGB").save(out, format="PDF", resolution=203.0)
    else:
        raise ValueError(f"{out.name}: write a .png or a .pdf file.")


def print_card(image: Image.Image, target: str) -> None:
    """Send the card to the receipt printer (``[terminal] printer`` form) as an ESC/POS image, then cut.

    python-escpos is the ``printer`` extra: imported only here."""
    from pos_app.receipts.escpos import open_printer

    printer = open_printer(target.removeprefix("file:"))
    try:
        printer.image(image, center=True)
        printer.text("\n")
        printer.cut()
    finally:
        printer.close()
