"""The till's sales as the history screens show them: a day's search, one sale, its event trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pos_app import journal
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.terminal.core import TillCore


@dataclass(frozen=True, slots=True)
class SaleRow:
    """One line of the history screen."""

    out_trade_no: str
    at: datetime
    cashier: str
    channel: Channel
    amount_fen: int
    refunded_fen: int
    state: PaymentState
    subject: str
    transaction_id: str | None

    @property
    def refundable(self) -> bool:
        return self.state in {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED}

    @classmethod
    def of(cls, sale: journal.Sale) -> SaleRow:
        return cls(
            sale.out_trade_no,
            sale.created_at,
            sale.cashier,
            Channel(sale.channel),
            sale.amount_fen,
            sale.refunded_fen,
            PaymentState(sale.state),
            sale.subject,
            sale.transaction_id,
        )


@dataclass(frozen=True, slots=True)
class TrailRow:
    seq: int
    at: datetime
    kind: str
    summary: str


class History(TillCore):
    def history(self, query: str = "", day: date | None = None) -> list[SaleRow]:
        """This terminal's sales of ``day`` (default today) matching ``query`` (amount, time, channel, …)."""
        when = day or self.clock().astimezone().date()
        with journal.session_scope(self.journal) as session:
            sales = journal.list_sales(session, when, query, terminal_id=self.terminal_id)
            return [SaleRow.of(s) for s in sales]

    def sale(self, out_trade_no: str) -> SaleRow | None:
        with journal.session_scope(self.journal) as session:
            s = journal.get_sale(session, out_trade_no)
            return None if s is None else SaleRow.of(s)

    def trail(self, out_trade_no: str) -> list[TrailRow]:
        with journal.session_scope(self.journal) as session:
            events = journal.sale_events(session, out_trade_no)
            return [TrailRow(e.seq, e.at, e.kind, summary(e.kind, e.payload)) for e in events]


def summary(kind: str, payload: dict[str, object]) -> str:
    """One readable line per journal event for the history trail."""
    who = payload.get("cashier") or ""
    if kind == "payment.state":
        text = f"{payload.get('from')} → {payload.get('to')}"
        if payload.get("reason"):
            text += f" ({payload['reason']})"
        if payload.get("transaction_id"):
            text += f" txn {payload['transaction_id']}"
    elif kind.startswith("refund."):
        refund = payload.get("refund")
        amount = refund.get("amount_fen") if isinstance(refund, dict) else None
        text = f"refund {payload.get('out_refund_no')}"
        if isinstance(amount, int):
            text += f" {format_fen(amount)}"
        if payload.get("to"):
            text += f" {payload.get('from')} → {payload.get('to')}"
        if payload.get("approved_by"):
            text += f" approved by {payload['approved_by']}"
    elif kind == "sale.cash":
        change = payload.get("change_fen")
        text = f"cash sale, change {format_fen(change)}" if isinstance(change, int) else "cash sale, exact"
    else:
        text = kind
    return f"{text} — {who}" if who else text
