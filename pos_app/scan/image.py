"""Payment codes from still images: pyzbar over Pillow images.

A customer's payment code (付款码) is shown on the phone as a Code 128 barcode above a QR code that
carry the same 16–24 digits. We decode every symbol in the picture, keep the ones that route to a
wallet, and refuse the picture when none does (or when two different codes are in it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from pyzbar import pyzbar

from pos_app.domain.errors import AuthCodeError, InputError
from pos_app.domain.routing import RoutedCode, route_auth_code


class ScanError(InputError):
    """The picture could not be read as a payment code; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """One decoded symbol: its text and the symbology pyzbar reports (QRCODE, CODE128, …)."""

    data: str
    kind: str


def _load(source: Image.Image | Path | str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    path = Path(source)
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except FileNotFoundError:
        raise ScanError(f"No picture at {path} — check the file name.") from None
    except (UnidentifiedImageError, OSError):
        raise ScanError(f"{path.name} is not a picture this till can read (use PNG or JPEG).") from None


def decode_image(source: Image.Image | Path | str) -> list[Symbol]:
    """Every barcode/QR symbol pyzbar finds in the picture, in reading order, without repeats.

    Greyscale first (what zbar reads best); if nothing is found, an auto-contrast pass helps with
    photos of a phone screen taken in a dim shop.
    """
    image = _load(source)
    grey = ImageOps.exif_transpose(image).convert("L")
    found: list[Symbol] = []
    for attempt in (grey, ImageOps.autocontrast(grey)):
        for result in pyzbar.decode(attempt):
            try:
                text = result.data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            symbol = Symbol(text, str(result.type))
            if symbol not in found:
                found.append(symbol)
        if found:
            break
    return found


def decode_payment_code(source: Image.Image | Path | str) -> RoutedCode:
    """The one wallet payment code in the picture, routed to its channel, or ScanError."""
    symbols = decode_image(source)
    if not symbols:
        raise ScanError("No code found in the picture — hold the phone steady and scan again.")
    routed: dict[str, RoutedCode] = {}
    last_error: AuthCodeError | None = None
    for symbol in symbols:
        try:
            code = route_auth_code(symbol.data)
        except AuthCodeError as exc:
            last_error = exc
            continue
        routed[code.auth_code] = code
    if len(routed) > 1:
        raise ScanError("The picture holds more than one payment code — scan one phone at a time.")
    if routed:
        return next(iter(routed.values()))
    assert last_error is not None
    raise ScanError(last_error.message)
