"""Payment codes read from real pictures with pyzbar: QR codes made with the qrcode lib, photos
with noise, pictures with no code or a non-wallet code."""

from __future__ import annotations

from pathlib import Path

import pytest
import qrcode
from PIL import Image, ImageFilter

from pos_app.domain.routing import Channel
from pos_app.scan import ScanError, decode_image, decode_payment_code

WECHAT = "134567890123456789"
ALIPAY = "286543210987654321"


def qr_image(data: str, *, scale: int = 6) -> Image.Image:
    qr = qrcode.QRCode(box_size=scale, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def on_phone_screen(code: Image.Image) -> Image.Image:
    """The code small in a larger grey picture, slightly blurred (a photo of a phone)."""
    canvas = Image.new("RGB", (code.width * 2 + 40, code.height * 2 + 40), (90, 90, 100))
    canvas.paste(code, (code.width // 2, code.height // 3))
    return canvas.filter(ImageFilter.GaussianBlur(0.8))


@pytest.mark.parametrize(("code", "channel"), [(WECHAT, Channel.WECHAT), (ALIPAY, Channel.ALIPAY)])
def test_qr_file_routes_to_its_wallet(tmp_path: Path, code: str, channel: Channel):
    path = tmp_path / "code.png"
    qr_image(code).save(path)
    routed = decode_payment_code(path)
    assert routed.channel == channel
    assert routed.auth_code == code


def test_photo_of_a_phone_is_read():
    routed = decode_payment_code(on_phone_screen(qr_image(WECHAT, scale=4)))
    assert routed.auth_code == WECHAT


def test_blank_picture_is_refused_with_advice():
    with pytest.raises(ScanError, match="No code found"):
        decode_payment_code(Image.new("RGB", (200, 200), "white"))


def test_non_wallet_code_is_refused_before_any_network_call():
    with pytest.raises(ScanError, match="not a WeChat or Alipay"):
        decode_payment_code(qr_image("999999999999999999"))


def test_two_different_codes_are_refused():
    left, right = qr_image(WECHAT), qr_image(ALIPAY)
    both = Image.new("RGB", (left.width + right.width + 20, max(left.height, right.height)), "white")
    both.paste(left, (0, 0))
    both.paste(right, (left.width + 20, 0))
    assert len(decode_image(both)) == 2
    with pytest.raises(ScanError, match="more than one"):
        decode_payment_code(both)


def test_missing_and_unreadable_files(tmp_path: Path):
    with pytest.raises(ScanError, match="No picture"):
        decode_payment_code(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ScanError, match="not a picture"):
        decode_payment_code(bad)


def test_camera_without_opencv_says_what_to_install():
    import importlib.util

    if importlib.util.find_spec("cv2") is not None:
        pytest.skip("OpenCV is installed here")
    from pos_app.scan.camera import scan_camera

    with pytest.raises(ScanError, match="camera extra"):
        scan_camera(0, timeout_s=0.1)
