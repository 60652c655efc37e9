"""Payment codes from a camera: frames via OpenCV (the optional ``camera`` extra), decoded by pyzbar.

OpenCV is imported when a camera is opened, never at module import, so the till runs without it.
"""

from __future__ import annotations

import time
from typing import Any

from PIL import Image

from pos_app.domain.errors import AuthCodeError
from pos_app.domain.routing import RoutedCode
from pos_app.scan.image import ScanError, decode_payment_code


def _cv2() -> Any:
    try:
        import cv2  # type: ignore[import-not-found]
    except ImportError:
        raise ScanError(
            "Camera scanning needs the camera extra: pip install 'pos-app[camera]'. Use the scanner instead."
        ) from None
    return cv2


def frame_to_image(frame: Any) -> Image.Image:
    """An OpenCV BGR frame (numpy array) as a Pillow image."""
    cv2 = _cv2()
    return Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def scan_camera(device: int = 0, *, timeout_s: float = 20.0) -> RoutedCode:
    """Read frames from camera ``device`` until one holds a payment code, or ScanError at timeout."""
    cv2 = _cv2()
    capture = cv2.VideoCapture(device)
    if not capture.isOpened():
        raise ScanError(f"Camera {device} cannot be opened — check it is plugged in, or use the scanner.")
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ok, frame = capture.read()
            if not ok:
                continue
            try:
                return decode_payment_code(frame_to_image(frame))
            except (ScanError, AuthCodeError):
                continue
    finally:
        capture.release()
    raise ScanError("No payment code seen by the camera — ask the customer to hold the phone closer.")
