"""The engine's answers about this till's payments and refunds, written into the journal (with an
alert when the news is not what the cashier last saw, see :mod:`pos_app.terminal.alerts`)."""

from __future__ import annotations

from sqlmodel import Session

from pos_app import journal
from pos_app.api.schemas import PaymentView, RefundView
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.state_paths import state_path
from pos_app.domain.states import SETTLED_STATES, PaymentState, RefundState
from pos_app.journal.refunds import OPEN_REFUND_STATES, VOID
from pos_app.journal.refunds_elsewhere import TILL
from pos_app.journal.wallet_sales import record_wallet as journal_wallet
from pos_app.terminal.alerts import AlertKind, Alerts
from pos_app.terminal.refunds_elsewhere import journal_refund_made_elsewhere

NEVER_SENT = "never reached the engine"


class Outcomes(Alerts):
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
            # A one_qr order learns its wallet when a phone opens its page (before it can be paid).
            opened = (
                view.mode is PaymentMode.ONE_QR
                and view.channel is not None
                and journal_wallet(
                    session, view.out_trade_no, view.channel, cashier=self.cashier or attempt.cashier, at=self.clock()
                )
            )
            if current == view.state or (current in SETTLED_STATES and not voided):
                if opened:
                    self._written()
                return opened
            if voided and self._void_done(session, view.out_trade_no):
                changed = True
            else:
                changed = self._record_path(session, attempt, view, current)
                if changed and view.state is PaymentState.PAID and view.out_trade_no not in self.watching:
                    cancelled = self.cancel_requested(session, view.out_trade_no)
                    self._raise_alert(
                        session,
                        AlertKind.PAID_AFTER_CANCEL if cancelled else AlertKind.PAID_UNSEEN,
                        view.out_trade_no,
                        attempt.amount_fen,
                        saw="cancelled" if cancelled else "unknown",
                        became=PaymentState.PAID.value,
                    )
        if changed or opened:
            self._written()
        return changed or opened

    def _void_done(self, session: Session, out_trade_no: str) -> bool:
        """A void this till journaled (with its reason and manager) was reversed: that row succeeds,
        which makes the sale REVERSED. False when no void of this sale is open."""
        for row in journal.sale_refunds(session, out_trade_no):
            if row.kind == VOID and RefundState(row.state) in OPEN_REFUND_STATES:
                cashier = self.cashier or row.cashier
                return journal.record_refund_state(
                    session, row.out_refund_no, RefundState.SUCCESS, cashier=cashier, at=self.clock()
                )
        return False

    def _record_path(
        self, session: Session, attempt: journal.PaymentAttempt, view: PaymentView, current: PaymentState
    ) -> bool:
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
        return changed

    def _never_sent(self, out_trade_no: str, reason: str = NEVER_SENT) -> PaymentView:
        """Close an order the engine has never seen (the create never arrived): nothing was charged."""
        with journal.session_scope(self.journal) as session:
            attempt = journal.get_attempt(session, out_trade_no)
            assert attempt is not None
            journal.record_attempt_state(
                session,
                out_trade_no,
                PaymentState.CLOSED,
                cashier=self.cashier or attempt.cashier,
                reason=reason,
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
                failure_reason=reason,
                created_at=attempt.created_at,
                updated_at=now,
            )
        self._written()
        return view

    def apply_refund(self, view: RefundView, *, seen: bool = False) -> bool:
        """Journal the engine's view of one of our refunds. False when nothing changed.

        ``seen``: the answer is on the cashier's screen now; otherwise a refund that FAILED is an alert.
        """
        with journal.session_scope(self.journal) as session:
            refund = journal.get_refund(session, view.out_refund_no)
            if refund is None:
                # Not started at this till: a refund of our sale made in the manager console.
                changed = journal_refund_made_elsewhere(session, view, terminal_id=self.terminal_id, at=self.clock())
            elif RefundState(refund.state) in (view.state, RefundState.SUCCESS, RefundState.FAILED):
                return False
            else:
                changed = journal.record_refund_state(
                    session,
                    view.out_refund_no,
                    view.state,
                    cashier=self.cashier or refund.cashier,
                    refund_id=view.refund_id,
                    failure_reason=view.failure_reason,
                    at=self.clock(),
                )
                if changed and view.state is RefundState.FAILED and not seen and refund.origin == TILL:
                    self._refund_failed_alert(session, refund.out_trade_no, view.out_refund_no, refund.amount_fen)
        if changed:
            self._written()
        return changed

    def _refund_failed_alert(self, session: Session, out_trade_no: str, out_refund_no: str, amount_fen: int) -> None:
        self._raise_alert(
            session,
            AlertKind.REFUND_FAILED,
            out_trade_no,
            amount_fen,
            saw="refund_pending",
            became=RefundState.FAILED.value,
            out_refund_no=out_refund_no,
        )
