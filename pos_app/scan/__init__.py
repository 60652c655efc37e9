"""Decoding payment codes from images and camera frames (DESIGN.md §3).

``decode_image`` / ``decode_payment_code`` read a barcode or QR from a Pillow image or an image file
with pyzbar. Camera capture (``pos_app.scan.camera``) needs the optional ``camera`` extra (OpenCV)
and is imported only when used. No Textual, no network.
"""

from pos_app.scan.image import ScanError, decode_image, decode_payment_code

__all__ = ["ScanError", "decode_image", "decode_payment_code"]
