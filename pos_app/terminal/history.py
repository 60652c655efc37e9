"""The till's sales as the history screens show them: a day's search, one sale, its event trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pos_app import journal
from pos_app.api.schemas import VoidKind
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.i18n import N_, _
from pos_app.journal.refunds_elsewhere import CONSOLE, elsewhere_refunded
from pos_app.terminal.core import TillCore
from pos_app.terminal.text import channel_name
from pos_app.terminal.voids import reversed_at_gateway

ONE_QR_LABEL = N_("One QR")
#: States a one-code sale reaches only after a wallet paid it (so its channel is the wallet's).
WALLET_KNOWN_STATES = frozenset(
    {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED, PaymentState.REVERSED}
)


def origin_words(origin: str) -> str:
    """Where a refund the till did not make was made, as the cashier reads it."""
    return _("made in the manager console") if origin == CONSOLE else _("made elsewhere")


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
    #: How a voided sale's money went back (None: not voided).
    void_kind: VoidKind | None = None
    #: A refund of this sale was made in the manager console (or elsewhere), not at this till.
    refunded_elsewhere: bool = False
    #: How the sale was paid (a one-code sale reads "One QR" until a wallet paid it).
    mode: PaymentMode | None = None

    @property
    def elsewhere_words(self) -> str:
        """The history line's mark of a refund made in the manager console ("" for none)."""
        return origin_words(CONSOLE) if self.refunded_elsewhere else ""

    @property
    def channel_words(self) -> str:
        """The channel as the cashier reads it; "One QR" for a one-code sale no wallet has paid (its
        journaled channel is only a placeholder until a wallet opened the page)."""
        if self.mode is PaymentMode.ONE_QR and self.state not in WALLET_KNOWN_STATES:
            return _(ONE_QR_LABEL)
        return channel_name(self.channel)

    @property
    def refundable(self) -> bool:
        return self.state in {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED}

    @classmethod
    def of(cls, sale: journal.Sale, mode: PaymentMode | None = None, *, elsewhere: bool = False) -> SaleRow:
        """``mode``: the payment's, to say how a voided wallet sale was voided (reversed or refunded)."""
        void_kind = None
        if sale.state == PaymentState.REVERSED and sale.transaction_id is not None and mode is not None:
            void_kind = VoidKind.REVERSED if reversed_at_gateway(sale.channel, mode) else VoidKind.REFUNDED
        elif sale.state == PaymentState.REVERSED and sale.channel == Channel.CASH:
            void_kind = VoidKind.REVERSED
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
            void_kind,
            elsewhere,
            PaymentMode(sale.mode),
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
            elsewhere = elsewhere_refunded(session, [s.out_trade_no for s in sales])
            return [SaleRow.of(s, elsewhere=s.out_trade_no in elsewhere) for s in sales]

    def sale(self, out_trade_no: str) -> SaleRow | None:
        with journal.session_scope(self.journal) as session:
            s = journal.get_sale(session, out_trade_no)
            if s is None:
                return None
            attempt = journal.get_attempt(session, out_trade_no)
            elsewhere = bool(elsewhere_refunded(session, [out_trade_no]))
            return SaleRow.of(s, None if attempt is None else PaymentMode(attempt.mode), elsewhere=elsewhere)

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
        void = isinstance(refund, dict) and refund.get("kind") == "void"
        text = f"{_('void') if void else 'refund'} {payload.get('out_refund_no')}"
        if isinstance(amount, int):
            text += f" {format_fen(amount)}"
        if payload.get("to"):
            text += f" {payload.get('from')} → {payload.get('to')}"
        if payload.get("approved_by"):
            text += f" approved by {payload['approved_by']}"
        if void and payload.get("reason"):
            text += f": {payload['reason']}"
        origin = refund.get("origin") if isinstance(refund, dict) else None
        if origin:
            text += f" ({origin_words(str(origin))})"
    elif kind == "sale.voided":
        text = _("void approved by {manager}: {reason}").format(
            manager=payload.get("approved_by") or "?", reason=payload.get("reason") or "-"
        )
    elif kind == "sale.cash":
        change = payload.get("change_fen")
        text = f"cash sale, change {format_fen(change)}" if isinstance(change, int) else "cash sale, exact"
    else:
        text = kind
    return f"{text} — {who}" if who else text
