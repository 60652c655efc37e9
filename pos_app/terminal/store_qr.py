"""Payments made on the till's printed store QR (台卡): journaled as sales of this till, said on screen.

The customer scans the printed code, types the amount and pays; the engine creates that order for the
till that owns the code (mode store_qr, operator "store-qr") and publishes it on the till's event
stream like any payment. The till journals each one once it is PAID, as a sale of the open shift —
once: the same out_trade_no is never journaled twice, so a duplicate or late event (or the catch-up
after a break in the link, :meth:`StoreQr.catch_up_store`) changes nothing. An order still in flight
is not journaled: it is the customer's payment in progress, not an open sale of this till (the
cashier cannot settle or cancel it), and its PAID event comes later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, func, select

from pos_app import journal
from pos_app.api.schemas import PaymentView
from pos_app.domain.errors import EngineUnavailable, PosError
from pos_app.domain.money import format_fen
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.i18n import N_, _, format_clock
from pos_app.journal.clock import aware
from pos_app.journal.wallet_sales import record_store_payment
from pos_app.terminal.core import TillCore
from pos_app.terminal.deadline import engine_answer
from pos_app.terminal.text import channel_name

log = logging.getLogger(__name__)

#: The catch-up asks again from this long before the last store sale journaled: an order created
#: earlier can be paid later (duplicates are harmless).
CATCH_UP_OVERLAP = timedelta(minutes=30)
#: With no store sale journaled yet, the catch-up looks back this far.
CATCH_UP_FIRST = timedelta(days=1)

RECEIVED = N_("{amount} received — {channel} — {time} — {till}")
NO_SHIFT = N_("No shift is open: this payment is journaled to the day — open a shift (F3).")


@dataclass(frozen=True, slots=True)
class StorePayment:
    """A store-QR payment this till has just journaled."""

    out_trade_no: str
    amount_fen: int
    channel_label: str
    paid_at: datetime
    till: str
    #: No shift was open: the sale is in the day's figures but in no shift's.
    no_shift: bool

    def words(self) -> str:
        """The line the cashier reads: "¥23.00 received — WeChat Pay — 12:03 — Till 1"."""
        amount, time = format_fen(self.amount_fen), format_clock(self.paid_at)
        return _(RECEIVED).format(amount=amount, channel=self.channel_label, time=time, till=self.till)


class StoreQr(TillCore):
    def record_store_view(self, view: PaymentView) -> StorePayment | None:
        """Journal a store-QR payment once it is PAID; None when it is not (yet) or was journaled before."""
        if view.mode is not PaymentMode.STORE_QR or view.state is not PaymentState.PAID or view.channel is None:
            return None
        if view.terminal_id and view.terminal_id != self.terminal_id:
            return None
        paid_at = view.paid_at or view.updated_at
        with journal.session_scope(self.journal) as session:
            sale = record_store_payment(
                session,
                terminal_id=self.terminal_id,
                store_id=self.store_id,
                out_trade_no=view.out_trade_no,
                channel=view.channel,
                amount_fen=view.amount_fen,
                subject=view.subject,
                operator=view.operator,
                transaction_id=view.transaction_id,
                at=paid_at,
            )
            if sale is None:
                return None
            no_shift = sale.shift_id is None
        self._written()
        till = self.settings.terminal.name or self.terminal_id
        return StorePayment(view.out_trade_no, view.amount_fen, channel_name(view.channel), paid_at, till, no_shift)

    def store_since(self) -> datetime:
        """Where the catch-up starts: a while before the last store sale journaled (or a day ago)."""
        with journal.session_scope(self.journal) as session:
            statement = select(func.max(col(journal.Sale.created_at))).where(
                journal.Sale.mode == PaymentMode.STORE_QR, journal.Sale.terminal_id == self.terminal_id
            )
            last = session.exec(statement).first()
        if last is None:
            return self.clock() - CATCH_UP_FIRST
        return aware(last) - CATCH_UP_OVERLAP

    async def catch_up_store(self) -> list[StorePayment]:
        """Ask the engine for the store-QR payments the event stream may have missed; journal the new
        ones (empty when the engine does not answer: the next link change asks again)."""
        try:
            views = await engine_answer(self.client.store_payments(self.store_since()))
        except (EngineUnavailable, PosError) as exc:
            log.warning("store-QR catch-up not done: %s", exc.__class__.__name__)
            return []
        recorded = [self.record_store_view(view) for view in views]
        return [payment for payment in recorded if payment is not None]
