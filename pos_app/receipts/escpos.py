"""ESC/POS rendering and printing through python-escpos (USB, network, or a file for tests).

python-escpos is the ``printer`` extra: import this module only when a receipt is printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from escpos.printer import Dummy, File, Network, Usb

from pos_app.i18n import _
from pos_app.receipts.model import Receipt
from pos_app.receipts.text import THANKS, body_lines, marks


def render_escpos(receipt: Receipt) -> bytes:
    """The full byte stream for one receipt: header, the text body, QR of the transaction id, cut."""
    printer = Dummy()
    printer.set(align="center", bold=True, double_height=True, double_width=True)
    printer.text(receipt.store_name + "\n")
    printer.set(normal_textsize=True, align="center", bold=True)
    for mark in marks(receipt):
        printer.text(mark + "\n")
    printer.set(align="left", bold=False, normal_textsize=True)
    printer.text("\n")
    for row in body_lines(receipt):
        printer.text(row + "\n")
    printer.text("\n")
    printer.set(align="center")
    printer.qr(receipt.qr_content, size=5, native=True)
    printer.text(_(THANKS) + "\n")
    printer.cut()
    return bytes(printer.output)


def open_printer(target: str) -> Any:
    """``usb:VID:PID``, ``tcp:HOST[:PORT]`` or a file path (a device node such as /dev/usb/lp0 too)."""
    if target.startswith("usb:"):
        _, vid, pid = target.split(":")
        return Usb(int(vid, 16), int(pid, 16))
    if target.startswith("tcp:"):
        host, _, port = target[4:].partition(":")
        return Network(host, port=int(port or 9100))
    return File(str(Path(target)))


def print_receipt(receipt: Receipt, target: str) -> None:
    printer = open_printer(target)
    try:
        printer._raw(render_escpos(receipt))
    finally:
        printer.close()
