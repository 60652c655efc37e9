"""The one text layout of a receipt, 42 columns by display width: the screen shows it, the printer
prints its body and marks (pos_app.receipts.escpos). Its words are in the till's language."""

from __future__ import annotations

import unicodedata

from pos_app.domain.money import format_fen
from pos_app.domain.routing import mask_code
from pos_app.i18n import N_, _
from pos_app.receipts.model import Receipt

WIDTH = 42  # characters of font A on an 80 mm printer; the screen preview is as wide
REPRINT_MARK = N_("*** REPRINT ***")
# No dash wider than '-': a printer's code page may have none.
SANDBOX_MARK = N_("SANDBOX - NOT A REAL PAYMENT")
THANKS = N_("Thank you!")


def display_width(text: str) -> int:
    """Columns ``text`` takes on a receipt or a terminal: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def centred(text: str, width: int = WIDTH) -> str:
    """``text`` centred in ``width`` columns (no trailing spaces)."""
    return " " * max(0, (width - display_width(text)) // 2) + text


def two_columns(left: str, right: str, width: int = WIDTH) -> str:
    """``left`` and ``right`` on one line of ``width`` columns; a long ``left`` is shortened, never
    the money on the right."""
    gap = width - display_width(left) - display_width(right)
    if gap < 1:
        while left and display_width(left) + display_width(right) + 2 > width:
            left = left[:-1]
        left += "…"
        gap = max(1, width - display_width(left) - display_width(right))
    return left + " " * gap + right


def marks(receipt: Receipt) -> list[str]:
    """The lines under the store name that say what kind of receipt this is."""
    return [*([_(REPRINT_MARK)] if receipt.reprint else []), *([_(SANDBOX_MARK)] if receipt.sandbox else [])]


def body_lines(receipt: Receipt) -> list[str]:
    """The receipt's text between the header and the thanks, for the screen and the printer."""
    rule = "-" * WIDTH
    rows = [
        two_columns(_("Order"), receipt.out_trade_no),
        two_columns(_("Time"), f"{receipt.at:%Y-%m-%d %H:%M:%S}"),
        two_columns(_("Cashier"), receipt.cashier),
        two_columns(_("Till"), receipt.terminal_name),
        rule,
    ]
    for line in receipt.lines:
        label = line.description if line.quantity == 1 else f"{line.description} x{line.quantity}"
        rows.append(two_columns(label, format_fen(line.total_fen)))
    if receipt.lines:
        rows.append(rule)
    rows.append(two_columns(_("TOTAL"), format_fen(receipt.amount_fen)))
    # Channel labels are marked for the catalog in pos_app.terminal.text (CHANNEL_NAMES).
    rows.append(two_columns(_("Paid by"), _(receipt.channel.label)))
    if receipt.tendered_fen is not None and receipt.change_fen is not None:
        rows.append(two_columns(_("Tendered"), format_fen(receipt.tendered_fen)))
        rows.append(two_columns(_("Change"), format_fen(receipt.change_fen)))
    if receipt.transaction_id:
        rows.append(two_columns(_("Txn"), receipt.transaction_id))
    if receipt.masked_auth_code:
        code = receipt.masked_auth_code
        rows.append(two_columns(_("Code"), code if "*" in code else mask_code(code)))
    if receipt.refunded_fen:
        rows.append(two_columns(_("Refunded"), format_fen(-receipt.refunded_fen)))
    rows.extend(receipt.notes)
    return rows


def text_lines(receipt: Receipt) -> list[str]:
    """The whole receipt as the screen shows it: the printed receipt without its QR."""
    header = [centred(receipt.store_name), *(centred(mark) for mark in marks(receipt))]
    return [*header, "", *body_lines(receipt), "", centred(_(THANKS))]


def render_text(receipt: Receipt) -> str:
    return "\n".join(text_lines(receipt))
