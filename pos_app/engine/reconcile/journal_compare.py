"""The third way: the wallet sales the terminals journaled, compared with the engine's payments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.reconcile.inputs import JournalSale, LedgerPayment
from pos_app.engine.reconcile.results import ACT_AMOUNT, ACT_NOT_SYNCED, Difference, OpenItem
from pos_app.engine.reconcile.state_groups import MONEY_IN, REVERSED, SETTLED

REFUNDED = PaymentState.REFUNDED.value

#: A payment matched in bulk whose journal sale differs (or is missing): (out_trade_no, amount, sale).
JournalOdd = tuple[str, int, JournalSale | None]


@dataclass(slots=True)
class JournalComparison:
    """The journaled sales of one channel not compared yet, and the items their comparison adds."""

    channel: Channel
    pending: dict[str, JournalSale]
    items: list[OpenItem]

    @classmethod
    def of(cls, channel: Channel, journal: dict[str, JournalSale], items: list[OpenItem]) -> JournalComparison:
        """The comparison of ``channel``'s sales out of every terminal's journal."""
        return cls(channel, {k: v for k, v in journal.items() if v.channel is channel}, items)

    def take(self, out_trade_no: str) -> JournalSale | None:
        """The journal sale of a payment, no longer pending (None: no terminal journaled it)."""
        return self.pending.pop(out_trade_no, None)

    def take_bulk(self, otns: Iterable[str], amounts: Iterable[int]) -> list[JournalOdd]:
        """Take the sales of the payments matched in bulk (PAID and due) and return those
        :meth:`compare` would report (no journal sale, another amount, or a final state without
        the money), so that only they become objects."""
        odd: list[JournalOdd] = []
        pending = self.pending
        for otn, amount in zip(otns, amounts, strict=True):
            sale = pending.pop(otn, None)
            if sale is None or sale.amount_fen != amount or (sale.state in SETTLED and sale.state not in MONEY_IN):
                odd.append((otn, amount, sale))
        return odd

    def compare(self, payment: LedgerPayment, sale: JournalSale | None) -> None:
        """One payment: what its terminal journaled against the ledger (after settling)."""
        if sale is None:
            if payment.state in MONEY_IN and payment.due:
                self._not_synced(payment)
        elif sale.amount_fen != payment.amount_fen:
            self._sale_item(
                Difference.AMOUNT_DIFFERS,
                payment,
                sale,
                f"Terminal {sale.terminal_id} journaled {format_fen(sale.amount_fen)}, "
                f"the engine {format_fen(payment.amount_fen)}.",
                ACT_AMOUNT,
            )
        elif _money_in_differs(sale.state, payment.state):
            self._sale_item(
                Difference.STATUS_DIFFERS,
                payment,
                sale,
                f"Terminal {sale.terminal_id} shows {payment.out_trade_no} as {sale.state}, "
                f"the engine as {payment.state}.",
                "Open the sale on the terminal so it refreshes from the engine; if goods left unpaid, "
                "contact the customer.",
            )

    def report_unknown(self) -> None:
        """Paid wallet sales a terminal journaled that the engine's day does not hold."""
        for otn, sale in self.pending.items():
            if sale.state not in MONEY_IN:
                continue
            self.items.append(
                OpenItem(
                    Difference.MISSING_LOCALLY,
                    self.channel,
                    otn,
                    f"Terminal {sale.terminal_id} journaled a paid {self.channel.label} sale {otn} "
                    f"({format_fen(sale.amount_fen)}) the engine has no record of.",
                    "Check the payment in the merchant platform and with the cashier.",
                    missing_from="ledger",
                    journal_fen=sale.amount_fen,
                    journal_status=sale.state,
                    terminal_id=sale.terminal_id,
                )
            )

    def _not_synced(self, payment: LedgerPayment) -> None:
        terminal = payment.terminal_id or "?"
        self.items.append(
            OpenItem(
                Difference.MISSING_LOCALLY,
                self.channel,
                payment.out_trade_no,
                f"Terminal {terminal} has not synced the payment {payment.out_trade_no} "
                f"({format_fen(payment.amount_fen)}).",
                ACT_NOT_SYNCED.format(terminal=terminal),
                missing_from="journal",
                ledger_fen=payment.amount_fen,
                ledger_status=payment.state,
                terminal_id=payment.terminal_id,
            )
        )

    def _sale_item(self, kind: Difference, payment: LedgerPayment, sale: JournalSale, detail: str, action: str) -> None:
        self.items.append(
            OpenItem(
                kind,
                self.channel,
                payment.out_trade_no,
                detail,
                action,
                ledger_fen=payment.amount_fen,
                journal_fen=sale.amount_fen,
                ledger_status=payment.state,
                journal_status=sale.state,
                terminal_id=sale.terminal_id,
            )
        )


def _money_in_differs(journal_state: str, ledger_state: str) -> bool:
    """Both sides know the outcome, and one has the money in while the other does not.

    A same-day void the gateway pays back by one full refund (``void_kind = refunded``: every Alipay
    void, WeChat QR voids) is REFUNDED in the ledger and journaled by the till as REVERSED (a void,
    terminal/voids.py): the same outcome, the customer has the money back, so not a difference.
    """
    if journal_state == REVERSED and ledger_state == REFUNDED:
        return False
    return (
        journal_state in SETTLED
        and ledger_state in SETTLED
        and (journal_state in MONEY_IN) != (ledger_state in MONEY_IN)
    )
