"""Refunds of paid sales, approved by a manager: journaled (with their out_refund_no) before the
engine is called; a refund left open by a lost answer is sent again under its own number.

The engine checks the approval itself: a new refund carries the name and PIN of the manager whose
PIN was just checked at this till (``manager_approval``, used once), kept in memory with the refund
until the engine has it (``refund_approvals``: a refund made offline is approved when it is sent).
A refund the engine definitely refuses (no approval it accepts, over a daily limit, a state that
cannot be refunded) is FAILED in the journal, never re-sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlmodel import Session

from pos_app import journal
from pos_app.api.client import EngineConflict, TerminalNotAuthorised
from pos_app.api.schemas import CreateRefund
from pos_app.domain.errors import AuthorisationError, PosError
from pos_app.domain.routing import Channel
from pos_app.domain.states import RefundState
from pos_app.i18n import _
from pos_app.terminal.deadline import engine_answer
from pos_app.terminal.outcomes import Outcomes

#: A manager's approval checked at the till is handed to the engine within this long, or asked again.
APPROVAL_TTL = timedelta(minutes=5)


def _open_refund(session: Session, out_trade_no: str) -> str | None:
    """An earlier refund of this sale still waiting for a definite answer (PENDING/UNKNOWN): a retry
    sends it again under its own out_refund_no instead of creating a second refund."""
    for refund in journal.sale_refunds(session, out_trade_no):
        if refund.state in (RefundState.PENDING, RefundState.UNKNOWN):
            return refund.out_refund_no
    return None


class Refunds(Outcomes):
    def refundable_fen(self, out_trade_no: str) -> int:
        with journal.session_scope(self.journal) as session:
            sale = journal.get_sale(session, out_trade_no)
            return 0 if sale is None else journal.refundable_fen(session, sale)

    async def refund(self, out_trade_no: str, amount_fen: int, *, reason: str, manager: str) -> RefundState:
        """Refund (part of) a paid sale, approved by ``manager``.

        Cash: paid out of the drawer at once. Wallet: the refund (and its out_refund_no) is committed
        PENDING first, then sent; a refund left open by a lost answer is re-sent under its own number.
        """
        cashier = self._operator()
        at = self.clock()
        with journal.session_scope(self.journal) as session:
            sale = journal.get_sale(session, out_trade_no)
            if sale is None:
                raise PosError(_("No sale {order} on this till.").format(order=out_trade_no))
            cash = Channel(sale.channel) == Channel.CASH
            existing = None if cash else _open_refund(session, out_trade_no)
            if existing is not None:
                refund = journal.get_refund(session, existing)
                assert refund is not None
                out_refund_no, amount_fen = refund.out_refund_no, refund.amount_fen
            else:
                refund = journal.record_refund(
                    session,
                    out_trade_no=out_trade_no,
                    amount_fen=amount_fen,
                    cashier=cashier,
                    approved_by=manager,
                    at=at,
                    reason=reason,
                    state=RefundState.SUCCESS if cash else RefundState.PENDING,
                )
                out_refund_no = refund.out_refund_no
        self._written()
        approval = self._take_approval(manager)
        if cash:
            return RefundState.SUCCESS
        if approval is not None:
            self.refund_approvals[out_refund_no] = approval
        return await self.send_refund(out_trade_no, out_refund_no, amount_fen, reason=reason, seen=True)

    def _take_approval(self, manager: str) -> tuple[str, str] | None:
        """The (name, PIN) of ``manager`` if their PIN was checked here just now; used once."""
        approval, self.manager_approval = self.manager_approval, None
        if approval is None or approval[0] != manager or self.clock() - approval[2] > APPROVAL_TTL:
            return None
        return approval[0], approval[1]

    async def send_refund(
        self,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        *,
        reason: str,
        operator: str | None = None,
        seen: bool = False,
    ) -> RefundState:
        """Send a journaled refund, with the approval given when it was made if the engine may not have
        received it yet (the engine needs none for a refund it already holds); ``seen``: its answer is on
        the cashier's screen (else a FAILED is an alert, see :meth:`apply_refund`)."""
        approval = self.refund_approvals.get(out_refund_no)
        request = CreateRefund(
            out_refund_no=out_refund_no,
            amount_fen=amount_fen,
            reason=reason[:80],
            operator=operator or self._operator(),
            approver=approval[0] if approval else None,
            approver_pin=SecretStr(approval[1]) if approval else None,
        )
        try:
            view = await engine_answer(self.client.create_refund(out_trade_no, request))
        except TerminalNotAuthorised:
            raise  # this till's own signature or clock: the refund may still go through later
        except (EngineConflict, AuthorisationError):
            # A definite refusal (e.g. the payment was voided meanwhile, no approval, over a limit):
            # the journaled refund never happened; leaving it PENDING would re-send it forever.
            self.refund_approvals.pop(out_refund_no, None)
            self._refund_refused(out_refund_no, seen=seen)
            raise
        self.refund_approvals.pop(out_refund_no, None)  # the engine holds the refund now
        if view.send_at is not None:
            self.refund_send_at[out_refund_no] = view.send_at
        self.apply_refund(view, seen=seen)
        return view.state

    def refund_waiting(self, out_trade_no: str) -> tuple[str, datetime] | None:
        """This sale's refund that the gateway made wait, while still open: its out_refund_no and when
        the engine sends it."""
        with journal.session_scope(self.journal) as session:
            for refund in journal.sale_refunds(session, out_trade_no):
                send_at = self.refund_send_at.get(refund.out_refund_no)
                if send_at is not None and refund.state in (RefundState.PENDING, RefundState.UNKNOWN):
                    return refund.out_refund_no, send_at
        return None

    def _refund_refused(self, out_refund_no: str, *, seen: bool) -> None:
        with journal.session_scope(self.journal) as session:
            refund = journal.get_refund(session, out_refund_no)
            if refund is None or RefundState(refund.state) is not RefundState.PENDING:
                return
            journal.record_refund_state(
                session,
                out_refund_no,
                RefundState.FAILED,
                cashier=self.cashier or refund.cashier,
                failure_reason="refused by the engine",
                at=self.clock(),
            )
            if not seen:
                self._refund_failed_alert(session, refund.out_trade_no, out_refund_no, refund.amount_fen)
        self._written()
