"""Same-day voids of paid wallet sales: journaled with the reason and the approving manager before
the engine's void (a cancel of the PAID payment) is asked, then followed to their end.

The engine reverses a WeChat payment-code order at the gateway and pays any other back by one full
refund (``void_kind = refunded``; the till says "void (refunded)"). Either way the till journals the
void as one row of kind "void" (:func:`pos_app.journal.record_wallet_void`) under the number the
engine gives that refund, so the engine's refund events and queries find it; when it succeeds the
sale is REVERSED and the X/Z reports count a void, never a refund.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import SecretStr

from pos_app import journal
from pos_app.api.client import EngineConflict, PaymentNotFound, TerminalNotAuthorised
from pos_app.api.schemas import CancelPayment, VoidKind
from pos_app.domain.errors import AuthorisationError, PosError
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState, RefundState
from pos_app.i18n import N_
from pos_app.terminal.deadline import engine_answer
from pos_app.terminal.refunds import Refunds

#: Why a void the engine never received is closed when no approval is left to send it with.
VOID_NOT_SENT = "the void never reached the engine"


def void_refund_no(out_trade_no: str) -> str:
    """The number the engine gives the refund that pays a void back (``engine/refunds.py``; the
    till may not import the engine, a unit test keeps the two equal)."""
    if len(out_trade_no) < 32:
        return "V" + out_trade_no
    return "V" + hashlib.sha256(out_trade_no.encode("ascii")).hexdigest()[:31]


def reversed_at_gateway(channel: Channel | str, mode: PaymentMode | str) -> bool:
    """Whether the gateway reverses a paid order itself (WeChat payment codes) rather than refunding
    it: the engine's rule (``engine/voids.py``), used to label a void journaled earlier."""
    return Channel(channel) is Channel.WECHAT and PaymentMode(mode) is PaymentMode.MICROPAY


@dataclass(frozen=True, slots=True)
class VoidResult:
    """How a void ended so far: reversed or paid back by a refund, and that refund's state."""

    kind: VoidKind
    state: RefundState


class Voids(Refunds):
    async def void_wallet(self, out_trade_no: str, *, reason: str, manager: str) -> VoidResult:
        """Void a paid wallet sale of today, approved by ``manager`` (whose PIN was just checked here).

        The void is journaled first; a void left open by a lost answer is asked again (the engine
        answers a void it already made with the voided payment)."""
        cashier = self._operator()
        number = void_refund_no(out_trade_no)
        with journal.session_scope(self.journal) as session:
            existing = journal.get_refund(session, number)
            if existing is not None and RefundState(existing.state) is RefundState.FAILED:
                raise PosError(N_("This sale's void was refused — refund the customer instead."))
            if existing is None:
                journal.record_wallet_void(
                    session,
                    out_trade_no,
                    cashier=cashier,
                    approved_by=manager,
                    reason=reason,
                    at=self.clock(),
                    out_refund_no=number,
                )
        self._written()
        approval = self._take_approval(manager)
        if approval is not None:
            self.refund_approvals[number] = approval
        return await self._send_void(out_trade_no, number, reason=reason, operator=cashier, seen=True)

    def open_void(self, out_trade_no: str) -> str | None:
        """The reason of this sale's void still waiting for its answer (asked again with ``v``)."""
        with journal.session_scope(self.journal) as session:
            row = journal.get_refund(session, void_refund_no(out_trade_no))
            if row is None or RefundState(row.state) in (RefundState.SUCCESS, RefundState.FAILED):
                return None
            return row.reason or "void"

    async def _send_void(self, out_trade_no: str, number: str, *, reason: str, operator: str, seen: bool) -> VoidResult:
        approval = self.refund_approvals.get(number)
        request = CancelPayment(
            operator=operator,
            reason=reason[:80],
            approver=approval[0] if approval else None,
            approver_pin=SecretStr(approval[1]) if approval else None,
        )
        try:
            view = await engine_answer(self.client.cancel_payment(out_trade_no, request))
        except TerminalNotAuthorised:
            raise  # this till's own signature or clock: the void may still go through later
        except (EngineConflict, AuthorisationError) as exc:
            # A definite refusal (not today's, refunds already made, no approval): no void happened.
            self.refund_approvals.pop(number, None)
            self._void_refused(number, exc.message, seen=seen)
            raise
        self.refund_approvals.pop(number, None)  # the engine holds the void now
        if view.state is PaymentState.REVERSED or view.void_kind is VoidKind.REVERSED:
            self.apply_view(view)  # moves the journaled void to SUCCESS (see Outcomes.apply_view)
            return VoidResult(VoidKind.REVERSED, RefundState.SUCCESS)
        refund = await engine_answer(self.client.get_refund(out_trade_no, number))
        self.apply_refund(refund, seen=seen)
        return VoidResult(VoidKind.REFUNDED, refund.state)

    def _void_refused(self, number: str, why: str, *, seen: bool) -> None:
        with journal.session_scope(self.journal) as session:
            row = journal.get_refund(session, number)
            if row is None or RefundState(row.state) not in (RefundState.PENDING, RefundState.UNKNOWN):
                return
            journal.record_refund_state(
                session, number, RefundState.FAILED, cashier=self.cashier or row.cashier, failure_reason=why,
                at=self.clock(),
            )  # fmt: skip
            if not seen:
                self._refund_failed_alert(session, row.out_trade_no, number, row.amount_fen)
        self._written()

    async def settle_void(self, out_trade_no: str, number: str, *, operator: str) -> RefundState:
        """Find out how an open void ended: reversed, its refund's state, or never received (then it is
        sent again with the approval given, or closed as not made: the sale stays paid)."""
        view = await engine_answer(self.client.get_payment(out_trade_no))
        if view.state is PaymentState.REVERSED:
            self.apply_view(view)
            return RefundState.SUCCESS
        try:
            refund = await engine_answer(self.client.get_refund(out_trade_no, number))
        except PaymentNotFound:
            if number in self.refund_approvals:
                with journal.session_scope(self.journal) as session:
                    row = journal.get_refund(session, number)
                    reason = row.reason if row is not None else ""
                result = await self._send_void(out_trade_no, number, reason=reason, operator=operator, seen=False)
                return result.state
            self._void_refused(number, VOID_NOT_SENT, seen=False)
            return RefundState.FAILED
        self.apply_refund(refund)
        return refund.state
