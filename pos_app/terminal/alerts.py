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
from typing import Any

from sqlmodel import Session, select

from pos_app import journal
from pos_app.domain.money import format_fen
from pos_app.i18n import N_, _
from pos_app.journal.alerts import ACKNOWLEDGED, RAISED, open_alerts
from pos_app.terminal.core import TillCore

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

    @classmethod
    def from_stored(cls, row: dict[str, Any]) -> Alert:
        """An alert as :func:`pos_app.journal.alerts.open_alerts` lists it (and a report stores it)."""
        return cls(
            id=int(row["id"]),
            kind=AlertKind(row["alert"]),
            out_trade_no=str(row["out_trade_no"]),
            amount_fen=int(row["amount_fen"]),
            saw=str(row["saw"]),
            became=str(row["became"]),
            at=datetime.fromisoformat(str(row["at"])),
            out_refund_no=row.get("out_refund_no"),
        )

    def headline(self) -> str:
        saw = _(SAW_WORDS.get(self.saw, self.saw))
        if self.kind is AlertKind.REFUND_FAILED:
            return _("Order {order}: refund of {amount} FAILED (you saw: {saw})").format(
                order=self.out_trade_no, amount=format_fen(self.amount_fen), saw=saw
            )
        return _("Order {order}: {amount} PAID (you saw: {saw})").format(
            order=self.out_trade_no, amount=format_fen(self.amount_fen), saw=saw
        )

    def remedy(self) -> str:
        """What is still to be done, for a report (away from the Attention screen's keys)."""
        if self.kind is AlertKind.REFUND_FAILED:
            return _("to do: send the refund again (F4 Attention, manager PIN)")
        return _("to do: hand over the goods, or refund it (F4 Attention, manager PIN)")

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
            return [Alert.from_stored(row) for row in open_alerts(session, self.terminal_id)]

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
