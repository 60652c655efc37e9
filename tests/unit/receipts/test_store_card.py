"""The printed store QR card: the code on it decodes back to the engine's URL (pyzbar, a real image),
PDF and PNG are real files of their kind, and the receipt printer gets an ESC/POS raster image."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pos_app.receipts.store_card import CARD_WIDTH, StoreCard, print_card, render_card, save_card
from pos_app.scan.image import decode_image

URL = "https://pos.example.com/s/Zq3vT0kLm9PxW2aB7cD5eF1gH4"
CARD = StoreCard("Demo Store 演示店", "Till 1", URL)


def test_card_png_decodes_back_to_the_store_url(tmp_path: Path) -> None:
    out = tmp_path / "card.png"
    save_card(render_card(CARD), out)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width == CARD_WIDTH
    assert [symbol.data for symbol in decode_image(out)] == [URL]


def test_card_pdf_is_a_pdf(tmp_path: Path) -> None:
    out = tmp_path / "card.pdf"
    save_card(render_card(CARD), out)
    assert out.read_bytes().startswith(b"%PDF-")


def test_other_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png or a \.pdf"):
        save_card(render_card(CARD), tmp_path / "card.jpg")
    assert not (tmp_path / "card.jpg").exists()


def test_printer_gets_a_raster_image_and_a_cut(tmp_path: Path) -> None:
    pytest.importorskip("escpos")
    device = tmp_path / "lp0"
    print_card(render_card(CARD), f"file:{device}")
    data = device.read_bytes()
    assert b"\x1dv0" in data  # GS v 0: print raster bit image
    assert b"\x1dV" in data  # GS V: cut
