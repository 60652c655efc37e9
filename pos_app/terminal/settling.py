"""Settling what is open: every payment and refund whose outcome the journal does not know is asked
at the engine and, if still open, cancelled (the answer may be PAID) — never charged twice."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field

from pos_app import journal
from pos_app.api.client import PaymentNotFound
from pos_app.api.schemas import CancelPayment
from pos_app.domain.errors import PosError
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import SETTLED_STATES, PaymentState, RefundState
from pos_app.i18n import _
from pos_app.journal.refunds import VOID
from pos_app.journal.refunds_elsewhere import TILL
from pos_app.terminal.deadline import engine_answer
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.voids import Voids


@dataclass(frozen=True, slots=True)
class PendingRow:
    out_trade_no: str
    channel: Channel
    mode: PaymentMode
    amount_fen: int
    state: PaymentState
    cashier: str


@dataclass(slots=True)
class SettleReport:
    """What :meth:`Settling.settle_all` did: each open payment's and refund's new state, and what failed."""

    payments: dict[str, PaymentState] = field(default_factory=dict)
    refunds: dict[str, RefundState] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def settled(self) -> int:
        return len(self.payments) + len(self.refunds)


class Settling(Voids):
    def pending(self) -> list[PendingRow]:
        """The payments whose outcome the journal does not know yet."""
        with journal.session_scope(self.journal) as session:
            rows = journal.non_final_attempts(session)
            return [
                PendingRow(
                    a.out_trade_no,
                    Channel(a.channel),
                    PaymentMode(a.mode),
                    a.amount_fen,
                    PaymentState(a.state),
                    a.cashier,
                )
                for a in rows
            ]

    async def settle(self, out_trade_no: str) -> PaymentState:
        """Ask the engine about an open payment; if still open, cancel it (the answer may be PAID)."""
        try:
            view = await engine_answer(self.client.get_payment(out_trade_no))
        except PaymentNotFound:
            return self._never_sent(out_trade_no).state
        self.apply_view(view)
        if view.state in SETTLED_STATES:
            return view.state
        with journal.session_scope(self.journal) as session:
            attempt = journal.get_attempt(session, out_trade_no)
            assert attempt is not None
            cashier = attempt.cashier
        request = CancelPayment(operator=self.cashier or cashier, reason="settled on start")
        view = await engine_answer(self.client.cancel_payment(out_trade_no, request))
        self.apply_view(view)
        return view.state

    async def settle_all(
        self, *, payments: bool = True, refunds: bool = True, skip: Collection[str] = ()
    ) -> SettleReport:
        """Settle every open payment (:meth:`settle`) and every open refund (:meth:`settle_refund`)
        through the engine. ``skip``: orders a screen is following right now (not to be cancelled
        behind the cashier's back). One failure does not stop the rest; it is reported (retried later)."""
        report = SettleReport()
        if payments:
            for row in await asyncio.to_thread(self.pending):
                if row.out_trade_no in skip:
                    continue
                try:
                    report.payments[row.out_trade_no] = await self.settle(row.out_trade_no)
                except PosError as exc:
                    report.failures[row.out_trade_no] = cashier_text(exc)
        if refunds:
            for out_trade_no, out_refund_no in await asyncio.to_thread(self.open_refunds):
                try:
                    report.refunds[out_refund_no] = await self.settle_refund(out_trade_no, out_refund_no)
                except PosError as exc:
                    report.failures[out_refund_no] = cashier_text(exc)
        return report

    def open_refunds(self) -> list[tuple[str, str]]:
        """(out_trade_no, out_refund_no) of every refund still waiting for a definite answer."""
        with journal.session_scope(self.journal) as session:
            return [(r.out_trade_no, r.out_refund_no) for r in journal.unsettled_refunds(session)]

    async def settle_refund(self, out_trade_no: str, out_refund_no: str) -> RefundState:
        """Send an open refund again under its SAME out_refund_no (the engine is idempotent: a refund
        it already holds is answered with its state, one it never received is made once); an open
        void is followed as a void (:meth:`settle_void`)."""
        with journal.session_scope(self.journal) as session:
            refund = journal.get_refund(session, out_refund_no)
            if refund is None:
                raise PosError(_("No refund {refund} on this till.").format(refund=out_refund_no))
            amount_fen, reason, cashier, kind = refund.amount_fen, refund.reason, refund.cashier, refund.kind
            origin = refund.origin
        if origin != TILL:
            # Made elsewhere (the manager console): only asked about, never sent again from this till.
            view = await engine_answer(self.client.get_refund(out_trade_no, out_refund_no))
            self.apply_refund(view)
            return view.state
        if kind == VOID:
            # Never sent as a refund: that would turn a reversal into a refund of a reversed payment.
            return await self.settle_void(out_trade_no, out_refund_no, operator=self.cashier or cashier)
        return await self.send_refund(
            out_trade_no, out_refund_no, amount_fen, reason=reason or "refund", operator=self.cashier or cashier
        )
