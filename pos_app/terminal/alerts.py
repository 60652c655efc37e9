"""Money surprises: a sale or refund that ended differently from what the cashier last saw, kept in
the journal (``alert.raised`` / ``alert.acknowledged`` events) until a cashier acknowledges it.

What the cashier sees is known two ways. In memory, the orders a screen is showing right now
(:meth:`Alerts.watch`): an answer that arrives there is on the cashier's screen, no surprise. In the
journal, a ``payment.cancel_requested`` event: the cashier cancelled the sale (or left it open) and
believes no money moved. A payment that becomes PAID while no screen shows it, or a refund on its way
that FAILED, raises an alert in the same transaction that journals the news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from pos_app import journal
from pos_app.domain.money import format_fen
from pos_app.i18n import N_, _
from pos_app.terminal.core import TillCore

RAISED = "alert.raised"
ACKNOWLEDGED = "alert.acknowledged"
#: The cashier cancelled a payment (or left it open): it is settled through the engine later.
CANCEL_REQUESTED = "payment.cancel_requested"


class AlertKind(StrEnum):
    #: The cashier cancelled the sale (or left it unsettled); the customer's payment went through.
    PAID_AFTER_CANCEL = "paid_after_cancel"
    #: The result was not known on screen; the payment went through.
    PAID_UNSEEN = "paid_unseen"
    #: A refund was on its way; it failed: the customer has not got the money back.
    REFUND_FAILED = "refund_failed"


class AckAction(StrEnum):
    HANDED_OVER = "handed_over"
    REFUNDED = "refunded"
    ACKNOWLEDGED = "acknowledged"


#: What the cashier last saw, in words (the ``saw`` of an alert).
SAW_WORDS = {
    "cancelled": N_("cancelled"),
    "unknown": N_("result not known"),
    "refund_pending": N_("refund on its way"),
}


@dataclass(frozen=True, slots=True)
class Alert:
    #: The sequence number of its ``alert.raised`` event (what an acknowledgement names).
    id: int
    kind: AlertKind
    out_trade_no: str
    amount_fen: int
    saw: str
    became: str
    at: datetime
    out_refund_no: str | None = None

    def headline(self) -> str:
        saw = _(SAW_WORDS.get(self.saw, self.saw))
        if self.kind is AlertKind.REFUND_FAILED:
            return _("Order {order}: refund of {amount} FAILED (you saw: {saw})").format(
                order=self.out_trade_no, amount=format_fen(self.amount_fen), saw=saw
            )
        return _("Order {order}: {amount} PAID (you saw: {saw})").format(
            order=self.out_trade_no, amount=format_fen(self.amount_fen), saw=saw
        )

    def action(self) -> str:
        if self.kind is AlertKind.REFUND_FAILED:
            return _("The customer has NOT got the money back: r sends the refund again (manager PIN).")
        return _("The customer paid: hand over the goods (Enter), or r refunds it (manager PIN).")


def _cashier_of(session: Session, out_trade_no: str, fallback: str) -> str:
    attempt = journal.get_attempt(session, out_trade_no)
    return attempt.cashier if attempt is not None else fallback


class Alerts(TillCore):
    def watch(self, out_trade_no: str) -> None:
        """A screen shows this order now: its answers reach the cashier's eyes."""
        self.watching.add(out_trade_no)

    def unwatch(self, out_trade_no: str) -> None:
        """The screen showing this order is gone: news about it from now on is a surprise."""
        self.watching.discard(out_trade_no)

    def cancel_requested(self, session: Session, out_trade_no: str) -> bool:
        statement = (
            select(journal.JournalEvent.seq)
            .where(journal.JournalEvent.ref == out_trade_no)
            .where(journal.JournalEvent.kind == CANCEL_REQUESTED)
        )
        return session.exec(statement.limit(1)).first() is not None

    def _raise_alert(
        self,
        session: Session,
        kind: AlertKind,
        out_trade_no: str,
        amount_fen: int,
        *,
        saw: str,
        became: str,
        out_refund_no: str | None = None,
    ) -> None:
        """Journal an alert in the caller's transaction (with the news that caused it)."""
        payload: dict[str, object] = {
            "out_trade_no": out_trade_no,
            "cashier": self.cashier or _cashier_of(session, out_trade_no, "till"),
            "alert": kind.value,
            "saw": saw,
            "became": became,
            "amount_fen": amount_fen,
        }
        if out_refund_no is not None:
            payload["out_refund_no"] = out_refund_no
        journal.append_event(session, self.terminal_id, RAISED, payload, self.clock())
        self.alerts_raised += 1

    def open_alerts(self) -> list[Alert]:
        """Every alert of this terminal no cashier has acknowledged yet, oldest first."""
        with journal.session_scope(self.journal) as session:
            statement = (
                select(journal.JournalEvent)
                .where(journal.JournalEvent.terminal_id == self.terminal_id)
                .where(col(journal.JournalEvent.kind).in_((RAISED, ACKNOWLEDGED)))
                .order_by(col(journal.JournalEvent.seq))
            )
            events = list(session.exec(statement).all())
        raised: dict[int, Alert] = {}
        for event in events:
            payload = event.payload
            if event.kind == ACKNOWLEDGED:
                raised.pop(int(payload["alert"]), None)
                continue
            refund_no = payload.get("out_refund_no")
            raised[event.seq] = Alert(
                id=event.seq,
                kind=AlertKind(payload["alert"]),
                out_trade_no=str(payload["out_trade_no"]),
                amount_fen=int(payload["amount_fen"]),
                saw=str(payload["saw"]),
                became=str(payload["became"]),
                at=event.at,
                out_refund_no=refund_no if isinstance(refund_no, str) else None,
            )
        return list(raised.values())

    def acknowledge(self, alert: Alert, action: AckAction, *, out_refund_no: str | None = None) -> None:
        """A cashier has dealt with ``alert`` (the journal names who, and how)."""
        payload: dict[str, object] = {
            "out_trade_no": alert.out_trade_no,
            "cashier": self._operator(),
            "alert": alert.id,
            "action": action.value,
        }
        if out_refund_no is not None:
            payload["out_refund_no"] = out_refund_no
        with journal.session_scope(self.journal) as session:
            journal.append_event(session, self.terminal_id, ACKNOWLEDGED, payload, self.clock())
        self._written()
