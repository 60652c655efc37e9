"""Wallet sales: the intent journaled first, then the order sent to the engine, its answers journaled.

Every wallet sale follows DESIGN.md §6: the sale, its payment attempt and its outbox row are
committed to the journal in ONE transaction before the engine is called; every answer from the
engine is written back as the attempt's new state. A retry reuses the same out_trade_no (and, for a
scanned code, the same code): the engine is idempotent, so a code is never charged twice. Every call
is bounded (:mod:`pos_app.terminal.deadline`): a screen never waits on the engine without an end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from pos_app import journal
from pos_app.api.client import EngineConflict, PaymentNotFound
from pos_app.api.schemas import CancelPayment, CreatePayment, PaymentView
from pos_app.domain.errors import EngineUnavailable
from pos_app.domain.routing import Channel, PaymentMode, RoutedCode
from pos_app.domain.states import PaymentState
from pos_app.journal.wallet_sales import UNKNOWN_WALLET
from pos_app.terminal.alerts import CANCEL_REQUESTED
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.channels import fallback_words
from pos_app.terminal.deadline import engine_answer
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.outcomes import Outcomes

#: The engine's error code when it cannot serve one code for every wallet now.
ONE_QR_UNAVAILABLE = "one_qr_unavailable"


@dataclass(slots=True)
class Attempt:
    """The wallet payment being taken right now, as the screens see it."""

    out_trade_no: str
    draft: SaleDraft
    #: None for a one_qr order until a wallet opened its page (then the engine's view names it).
    channel: Channel | None
    mode: PaymentMode
    cashier: str
    created_at: datetime
    view: PaymentView | None = None
    #: micropay only: kept in memory for a retry of the SAME order (the journal holds it masked).
    routed: RoutedCode | None = None
    #: why the last engine call did not answer (offline, …); the order stays open until settled.
    error: str | None = None
    #: one_qr only: the engine refused to serve one code (409 one_qr_unavailable) — what the cashier
    #: reads instead (press W or A); the order was closed in the journal, nothing was charged.
    unavailable: str | None = None

    @property
    def state(self) -> PaymentState:
        return self.view.state if self.view else PaymentState.CREATED


def journal_lines(draft: SaleDraft) -> list[journal.LineIn] | None:
    """The draft's item lines as the journal stores them (None for a sale typed as one amount)."""
    if not draft.lines:
        return None
    return [journal.LineIn(name=line.description, unit_fen=line.unit_fen, qty=line.quantity) for line in draft.lines]


class Sales(Outcomes):
    def _start(self, draft: SaleDraft, channel: Channel | None, mode: PaymentMode) -> Attempt:
        """Commit the intent (sale + attempt + outbox row) in one transaction; return the attempt."""
        cashier = self._operator()
        at = self.clock()
        with journal.session_scope(self.journal) as session:
            out_trade_no = journal.new_out_trade_no(
                session, store_id=self.store_id, terminal_id=self.terminal_id, at=at
            )
            journal.start_sale(
                session,
                terminal_id=self.terminal_id,
                store_id=self.store_id,
                cashier=cashier,
                out_trade_no=out_trade_no,
                channel=channel or UNKNOWN_WALLET,
                mode=mode,
                subject=draft.subject,
                at=at,
                amount_fen=draft.amount_fen,
                lines=journal_lines(draft),
            )
        self._written()
        # The caller's screen shows this order from now on (until it calls unwatch).
        self.watch(out_trade_no)
        return Attempt(out_trade_no, draft, channel, mode, cashier, at)

    async def open_native(self, draft: SaleDraft, channel: Channel) -> Attempt:
        """Commit the intent of a QR sale; nothing is sent yet (:meth:`send` does that)."""
        # Written on the event loop, not in a thread: nothing on screen moves during this short
        # write, and a hand-off to a worker thread and back would lengthen the cashier's path from
        # the key to the QR by about as much again.
        return self._start(draft, channel, PaymentMode.NATIVE)

    async def open_one_qr(self, draft: SaleDraft) -> Attempt:
        """Commit the intent of a sale on the one code for every wallet (the wallet is not known yet)."""
        return self._start(draft, None, PaymentMode.ONE_QR)  # on the loop: see open_native

    async def start_native(self, draft: SaleDraft, channel: Channel) -> Attempt:
        attempt = await self.open_native(draft, channel)
        await self.send(attempt)
        return attempt

    async def start_micropay(self, draft: SaleDraft, routed: RoutedCode) -> Attempt:
        attempt = self._start(draft, routed.channel, PaymentMode.MICROPAY)  # on the loop: see open_native
        attempt.routed = routed
        await self.send(attempt)
        return attempt

    async def resend(self, attempt: Attempt) -> Attempt:
        """Send the same order again (same out_trade_no, same code): the engine answers idempotently."""
        await self.send(attempt)
        return attempt

    async def send(
        self, attempt: Attempt, *, journal_answer: bool = True, sent: asyncio.Event | None = None
    ) -> Attempt:
        """Send the attempt's order to the engine; its answer lands in ``attempt.view`` (or ``.error``).

        ``journal_answer=False`` leaves journaling the answer to the caller (:meth:`apply_view`): the QR
        screen draws the code first and journals AWAITING_SCAN right after, so the customer is not kept
        waiting on a write whose loss would change nothing (the intent is already durable, and an open
        order is settled through the engine on the next start). ``sent`` is set once the order is on
        its way to the engine (or the call ended).
        """
        request = CreatePayment(
            out_trade_no=attempt.out_trade_no,
            amount_fen=attempt.draft.amount_fen,
            mode=attempt.mode,
            channel=attempt.channel,
            auth_code=attempt.routed.auth_code if attempt.routed else None,
            subject=attempt.draft.subject,
            operator=attempt.cashier,
        )
        try:
            view = await engine_answer(self.client.create_payment(request, sent=sent))
        except EngineUnavailable as exc:
            # The outcome is not known: the order stays open (CREATED) and is settled through the
            # engine before the next wallet sale, or by a retry of the same order now.
            attempt.error = cashier_text(exc)
            return attempt
        except EngineConflict as exc:
            if attempt.mode is not PaymentMode.ONE_QR or exc.code != ONE_QR_UNAVAILABLE:
                raise
            # The engine created nothing: the intent is closed here and the cashier offered W / A.
            attempt.view = self._never_sent(attempt.out_trade_no, ONE_QR_UNAVAILABLE)
            attempt.unavailable = fallback_words(exc.message)
            return attempt
        attempt.error = None
        attempt.view = view
        if journal_answer:
            self.apply_view(view)
        return attempt

    async def refresh(self, attempt: Attempt) -> PaymentView:
        view = await engine_answer(self.client.get_payment(attempt.out_trade_no))
        self.apply_view(view)
        return view

    def request_cancel(self, attempt: Attempt, *, reason: str) -> None:
        """Journal, at once, that the cashier cancelled this order (or left it open) and believes no
        money moved: whatever the engine says later, a PAID is then an alert, never a quiet sale."""
        payload = {
            "out_trade_no": attempt.out_trade_no,
            "cashier": self._operator(),
            "reason": reason[:80],
            "saw": attempt.state.value,
        }
        with journal.session_scope(self.journal) as session:
            journal.append_event(session, self.terminal_id, CANCEL_REQUESTED, payload, self.clock())
        self._written()

    async def cancel(self, attempt: Attempt, *, reason: str = "") -> PaymentView:
        """Close (native) or reverse (micropay) the order; the answer may still be PAID."""
        request = CancelPayment(operator=attempt.cashier, reason=reason[:80])
        try:
            view = await engine_answer(self.client.cancel_payment(attempt.out_trade_no, request))
        except PaymentNotFound:
            # The engine never received this order: no money can have moved.
            view = self._never_sent(attempt.out_trade_no)
            attempt.view = view
            return view
        attempt.view = view
        self.apply_view(view)
        return view
