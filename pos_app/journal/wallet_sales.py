"""Wallet sales whose channel or whose very order came from the engine: the one code for every wallet
(one_qr: the wallet is known only once a phone opens the page) and the store's printed QR (store_qr:
the customer typed the amount, the engine created the order for this till).

Like every journal function these never commit; each writes one event with the sale's snapshot, so
the engine's copy of the journal (sync) learns the channel and the store sale too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal.clock import aware
from pos_app.journal.errors import JournalError
from pos_app.journal.events import append_event
from pos_app.journal.models import JournalEvent, Sale
from pos_app.journal.sales import get_attempt, get_sale, insert_sale
from pos_app.journal.snapshots import SALE, sale_snapshot

#: The channel a one_qr sale is written with until a wallet opens its page (the column needs one);
#: such a sale is never paid before its wallet is known, so no report counts the placeholder.
UNKNOWN_WALLET = Channel.WECHAT

WALLET_OPENED = "payment.wallet"
STORE_SALE = "sale.store_qr"


def record_wallet(session: Session, out_trade_no: str, channel: Channel, *, cashier: str, at: datetime) -> bool:
    """A one_qr order learned its wallet: the sale and its attempt take ``channel``. False when the
    journal knew it already (a repeat) or the order is not a one_qr order. Written once even when the
    placeholder was right, so the journal tells an opened order from one no wallet has seen."""
    attempt = get_attempt(session, out_trade_no)
    if attempt is None:
        raise JournalError(f"No payment {out_trade_no} in this journal.")
    sale = session.get(Sale, attempt.sale_id)
    assert sale is not None
    if PaymentMode(attempt.mode) is not PaymentMode.ONE_QR or wallet_known(session, out_trade_no):
        return False
    when = aware(at)
    sale.channel = attempt.channel = channel
    sale.updated_at = attempt.updated_at = when
    session.add(sale)
    session.add(attempt)
    session.flush()
    payload: dict[str, Any] = {"cashier": cashier, "out_trade_no": out_trade_no, "channel": channel.value}
    payload[SALE] = sale_snapshot(session, sale)
    append_event(session, sale.terminal_id, WALLET_OPENED, payload, when)
    return True


def wallet_known(session: Session, out_trade_no: str) -> bool:
    """Whether a wallet opened this one_qr order's page (its channel is no longer the placeholder)."""
    statement = select(JournalEvent.seq).where(JournalEvent.ref == out_trade_no, JournalEvent.kind == WALLET_OPENED)
    return session.exec(statement).first() is not None


def record_store_payment(
    session: Session,
    *,
    terminal_id: str,
    store_id: str,
    out_trade_no: str,
    channel: Channel,
    amount_fen: int,
    subject: str,
    operator: str,
    transaction_id: str | None,
    at: datetime,
) -> Sale | None:
    """Journal a PAID store-QR payment as a sale of the open shift (None: journaled before).

    With no shift open the sale is still written (to the open business day, no shift): money that
    came in is never dropped; the caller tells the cashier.
    """
    if get_sale(session, out_trade_no) is not None:
        return None
    new = insert_sale(
        session,
        terminal_id=terminal_id,
        store_id=store_id,
        cashier=operator,
        out_trade_no=out_trade_no,
        channel=channel,
        mode=PaymentMode.STORE_QR,
        subject=subject,
        amount_fen=amount_fen,
        lines=None,
        state=PaymentState.PAID,
        at=at,
    )
    if transaction_id:
        new.sale.transaction_id = new.attempt.transaction_id = transaction_id[:64]
    snapshot = sale_snapshot(session, new.sale, lines=new.lines, attempt=new.attempt)
    payload: dict[str, Any] = {"cashier": operator, "out_trade_no": out_trade_no, SALE: snapshot}
    append_event(session, terminal_id, STORE_SALE, payload, at)
    return new.sale
