"""Receipts built from what the journal recorded: the original, and a reprint (marked REPRINT and
journaled as ``receipt.reprint``). The same :class:`~pos_app.receipts.model.Receipt` feeds the screen
(:func:`~pos_app.receipts.text.render_text`) and the printer (:func:`~pos_app.receipts.escpos.render_escpos`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlmodel import Session

from pos_app.domain.routing import Channel
from pos_app.domain.states import MONEY_IN_STATES, PaymentState
from pos_app.journal import JournalError, Sale, append_event, get_sale, sale_events, sale_lines
from pos_app.receipts.model import Receipt, ReceiptLine, receipt_lines

#: States of a sale that ever had a receipt (money came in; later refunds are shown on it).
RECEIPT_STATES = frozenset(MONEY_IN_STATES | {PaymentState.REFUNDED})


@dataclass(frozen=True, slots=True)
class Letterhead:
    """What the receipt says about the shop (from the profile's ``[terminal]`` section)."""

    store_name: str
    terminal_name: str
    sandbox: bool = False


def _tendered_fen(session: Session, sale: Sale) -> int | None:
    for event in sale_events(session, sale.out_trade_no):
        if event.kind == "sale.cash":
            tendered = event.payload.get("tendered_fen")
            return tendered if isinstance(tendered, int) else None
    return None


def receipt_for_sale(
    session: Session,
    out_trade_no: str,
    letterhead: Letterhead,
    *,
    reprint: bool = False,
    tz: tzinfo | None = None,
) -> Receipt:
    """The receipt of a paid sale as the journal holds it (times in ``tz``, default local time)."""
    sale = get_sale(session, out_trade_no)
    if sale is None:
        raise JournalError(f"No sale {out_trade_no} in this journal.")
    if PaymentState(sale.state) not in RECEIPT_STATES:
        raise JournalError(f"Sale {out_trade_no} is {PaymentState(sale.state).value}: there is no receipt to print.")
    items = (ReceiptLine(line.name, line.qty, line.unit_fen) for line in sale_lines(session, sale))
    lines = receipt_lines(items, sale.subject, sale.amount_fen)
    channel = Channel(sale.channel)
    return Receipt(
        store_name=letterhead.store_name,
        terminal_name=letterhead.terminal_name,
        cashier=sale.cashier,
        at=sale.created_at.astimezone(tz),
        out_trade_no=sale.out_trade_no,
        amount_fen=sale.amount_fen,
        channel=channel,
        lines=lines,
        transaction_id=sale.transaction_id,
        tendered_fen=_tendered_fen(session, sale) if channel == Channel.CASH else None,
        refunded_fen=sale.refunded_fen,
        reprint=reprint,
        sandbox=letterhead.sandbox,
    )


def printer_target(setting: str) -> str:
    """The target :func:`pos_app.receipts.escpos.print_receipt` opens for a ``[terminal] printer`` value."""
    return setting.removeprefix("file:")


def reprint_receipt(
    session: Session,
    out_trade_no: str,
    letterhead: Letterhead,
    *,
    cashier: str,
    at: datetime,
    target: str | None = None,
    tz: tzinfo | None = None,
) -> Receipt:
    """A reprint (marked REPRINT) of a sale's receipt, journaled as ``receipt.reprint``. No commit."""
    receipt = receipt_for_sale(session, out_trade_no, letterhead, reprint=True, tz=tz)
    sale = get_sale(session, out_trade_no)
    assert sale is not None
    payload = {"cashier": cashier, "out_trade_no": out_trade_no, "printer": target}
    append_event(session, sale.terminal_id, "receipt.reprint", payload, at)
    return receipt
