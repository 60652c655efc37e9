"""The engine's answers about this till's payments and refunds, written into the journal."""

from __future__ import annotations

from pos_app import journal
from pos_app.api.schemas import PaymentView, RefundView
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.state_paths import state_path
from pos_app.domain.states import SETTLED_STATES, PaymentState, RefundState
from pos_app.terminal.core import TillCore

NEVER_SENT = "never reached the engine"


class Outcomes(TillCore):
    def apply_view(self, view: PaymentView) -> bool:
        """Journal the engine's view of one of our payments. False when nothing changed."""
        if view.terminal_id and view.terminal_id != self.terminal_id:
            return False
        with journal.session_scope(self.journal) as session:
            attempt = journal.get_attempt(session, view.out_trade_no)
            if attempt is None:
                return False
            current = PaymentState(attempt.state)
            # Refund states are written by the refund flow; a payment view only moves the payment.
            if current in SETTLED_STATES and view.state in {
                PaymentState.PARTIALLY_REFUNDED,
                PaymentState.REFUNDED,
            }:
                return False
            # A same-day void (cancel of a PAID payment) is the one move out of a settled state.
            voided = current is PaymentState.PAID and view.state is PaymentState.REVERSED
            if current == view.state or (current in SETTLED_STATES and not voided):
                return False
            prefer = PaymentState.SUBMITTED if view.mode == PaymentMode.MICROPAY else PaymentState.AWAITING_SCAN
            path = state_path(current, view.state, prefer)
            if path is None:
                return False  # a stale or out-of-order view: the journal already knows better
            changed = False
            for step in path:
                # Only the last step carries the answer's details; the steps between were missed
                # (e.g. the event for USER_PAYING arrived before the create call's own answer).
                last = step == view.state
                changed = (
                    journal.record_attempt_state(
                        session,
                        view.out_trade_no,
                        step,
                        cashier=self.cashier or attempt.cashier,
                        transaction_id=view.transaction_id if last else None,
                        reason=view.failure_reason if last else None,
                        at=self.clock(),
                    )
                    or changed
                )
        if changed:
            self._written()
        return changed

    def _never_sent(self, out_trade_no: str) -> PaymentView:
        """Close an order the engine has never seen (the create never arrived): nothing was charged."""
        with journal.session_scope(self.journal) as session:
            attempt = journal.get_attempt(session, out_trade_no)
            assert attempt is not None
            journal.record_attempt_state(
                session,
                out_trade_no,
                PaymentState.CLOSED,
                cashier=self.cashier or attempt.cashier,
                reason=NEVER_SENT,
                at=self.clock(),
            )
            now = self.clock()
            view = PaymentView(
                out_trade_no=out_trade_no,
                terminal_id=self.terminal_id,
                channel=Channel(attempt.channel),
                mode=PaymentMode(attempt.mode),
                amount_fen=attempt.amount_fen,
                subject="",
                operator=attempt.cashier,
                state=PaymentState.CLOSED,
                failure_reason=NEVER_SENT,
                created_at=attempt.created_at,
                updated_at=now,
            )
        self._written()
        return view

    def apply_refund(self, view: RefundView) -> bool:
        """Journal the engine's view of one of our refunds. False when nothing changed."""
        with journal.session_scope(self.journal) as session:
            refund = journal.get_refund(session, view.out_refund_no)
            if refund is None or RefundState(refund.state) == view.state:
                return False
            if RefundState(refund.state) in (RefundState.SUCCESS, RefundState.FAILED):
                return False
            changed = journal.record_refund_state(
                session,
                view.out_refund_no,
                view.state,
                cashier=self.cashier or refund.cashier,
                refund_id=view.refund_id,
                failure_reason=view.failure_reason,
                at=self.clock(),
            )
        if changed:
            self._written()
        return changed
