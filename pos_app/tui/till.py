"""What the till does, without any screen: journal first, then the engine.

Every wallet sale follows DESIGN.md §6: the sale, its payment attempt and its outbox row are
committed to the journal in ONE transaction before the engine is called; every answer from the
engine is written back as the attempt's new state. A retry reuses the same out_trade_no (and, for a
scanned code, the same code): the engine is idempotent, so a code is never charged twice. Refunds
get their out_refund_no journaled before the engine call, and a retry reuses it.

Screens call these methods from workers. Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from pos_app import journal
from pos_app.api.client import EngineClient, EngineConflict, PaymentNotFound
from pos_app.api.schemas import CancelPayment, CreatePayment, CreateRefund, PaymentView, RefundView
from pos_app.config import Settings
from pos_app.domain.errors import AuthorisationError, EngineUnavailable, PosError
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel, PaymentMode, RoutedCode
from pos_app.domain.states import SETTLED_STATES, TRANSITIONS, PaymentState, RefundState
from pos_app.tui.logic.cart import ItemLine
from pos_app.tui.logic.receipt import ReceiptData

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SaleDraft:
    """What the cashier is selling: an amount (typed or summed from lines), a subject, the lines."""

    amount_fen: int
    subject: str
    lines: list[ItemLine] = field(default_factory=list)


@dataclass(slots=True)
class Attempt:
    """The wallet payment being taken right now, as the screens see it."""

    out_trade_no: str
    draft: SaleDraft
    channel: Channel
    mode: PaymentMode
    cashier: str
    created_at: datetime
    view: PaymentView | None = None
    #: micropay only: kept in memory for a retry of the SAME order (the journal holds it masked).
    routed: RoutedCode | None = None
    #: why the last engine call did not answer (offline, …); the order stays open until settled.
    error: str | None = None

    @property
    def state(self) -> PaymentState:
        return self.view.state if self.view else PaymentState.CREATED


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

    @property
    def refundable(self) -> bool:
        return self.state in {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED}


@dataclass(frozen=True, slots=True)
class TrailRow:
    seq: int
    at: datetime
    kind: str
    summary: str


@dataclass(slots=True)
class SettleReport:
    """What :meth:`Till.settle_all` did: each open payment's and refund's new state, and what failed."""

    payments: dict[str, PaymentState] = field(default_factory=dict)
    refunds: dict[str, RefundState] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def settled(self) -> int:
        return len(self.payments) + len(self.refunds)


@dataclass(frozen=True, slots=True)
class PendingRow:
    out_trade_no: str
    channel: Channel
    mode: PaymentMode
    amount_fen: int
    state: PaymentState
    cashier: str


def state_path(
    current: PaymentState, target: PaymentState, prefer: PaymentState | None = None
) -> list[PaymentState] | None:
    """The shortest forward walk from ``current`` to ``target`` through the one transition table
    (the steps after ``current``), or None when ``target`` cannot be reached (a stale view).
    ``prefer`` is the intermediate state of this payment's mode (SUBMITTED for micropay,
    AWAITING_SCAN for native); UNKNOWN is never chosen as a step it was not told about."""
    if current == target:
        return []
    frontier: list[list[PaymentState]] = [[current]]
    seen = {current}
    while frontier:
        next_frontier: list[list[PaymentState]] = []
        for walk in frontier:
            steps = sorted(TRANSITIONS[walk[-1]], key=lambda st: (st != prefer, st == PaymentState.UNKNOWN, st))
            for step in steps:
                if step == target:
                    return walk[1:] + [step]
                if step not in seen:
                    seen.add(step)
                    next_frontier.append(walk + [step])
        frontier = next_frontier
    return None


def _lines(draft: SaleDraft) -> list[journal.LineIn] | None:
    if not draft.lines:
        return None
    return [journal.LineIn(name=line.description, unit_fen=line.unit_fen, qty=line.quantity) for line in draft.lines]


class Till:
    """One terminal's use cases over its journal (SQLite) and its engine client."""

    def __init__(
        self,
        settings: Settings,
        journal_engine: Engine,
        client: EngineClient,
        *,
        clock: Clock = utc_now,
        on_journal_write: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal_engine
        self.client = client
        self.clock = clock
        self.cashier: str | None = None
        self.on_journal_write = on_journal_write

    @property
    def terminal_id(self) -> str:
        return self.settings.terminal.terminal_id

    @property
    def store_id(self) -> str:
        return self.settings.terminal.store_id

    def _written(self) -> None:
        if self.on_journal_write is not None:
            self.on_journal_write()

    def _operator(self) -> str:
        if not self.cashier:
            raise AuthorisationError("Sign in with your PIN first.")
        return self.cashier

    # -- staff --------------------------------------------------------------------------------------

    def login(self, pin: str) -> str:
        with journal.session_scope(self.journal) as session:
            staff = journal.check_pin(session, pin)
        if staff is None:
            raise AuthorisationError("Wrong PIN — try again.")
        self.cashier = staff.name
        return staff.name

    def logout(self) -> None:
        self.cashier = None

    def check_manager(self, pin: str) -> str:
        """The manager's name for this PIN, or AuthorisationError."""
        with journal.session_scope(self.journal) as session:
            return journal.require_manager(session, pin).name

    # -- wallet payments ----------------------------------------------------------------------------

    def _start(self, draft: SaleDraft, channel: Channel, mode: PaymentMode) -> Attempt:
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
                channel=channel,
                mode=mode,
                subject=draft.subject,
                at=at,
                amount_fen=draft.amount_fen,
                lines=_lines(draft),
            )
        self._written()
        return Attempt(out_trade_no, draft, channel, mode, cashier, at)

    async def open_native(self, draft: SaleDraft, channel: Channel) -> Attempt:
        """Commit the intent of a QR sale; nothing is sent yet (:meth:`send` does that)."""
        # Intents are written on the event loop, not in a thread: the write takes ~10 ms, nothing on
        # screen moves meanwhile, and handing it to a worker thread and back cost another ~10 ms
        # (measured) on the cashier's path from the key to the QR.
        return self._start(draft, channel, PaymentMode.NATIVE)

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
            view = await self.client.create_payment(request, sent=sent)
        except EngineUnavailable as exc:
            # The outcome is not known: the order stays open (CREATED) and is settled through the
            # engine before the next wallet sale, or by a retry of the same order now.
            attempt.error = exc.message
            return attempt
        attempt.error = None
        attempt.view = view
        if journal_answer:
            self.apply_view(view)
        return attempt

    async def refresh(self, attempt: Attempt) -> PaymentView:
        view = await self.client.get_payment(attempt.out_trade_no)
        self.apply_view(view)
        return view

    async def cancel(self, attempt: Attempt, *, reason: str = "") -> PaymentView:
        """Close (native) or reverse (micropay) the order; the answer may still be PAID."""
        request = CancelPayment(operator=attempt.cashier, reason=reason[:80])
        try:
            view = await self.client.cancel_payment(attempt.out_trade_no, request)
        except PaymentNotFound:
            # The engine never received this order: no money can have moved.
            view = self._never_sent(attempt.out_trade_no)
            attempt.view = view
            return view
        attempt.view = view
        self.apply_view(view)
        return view

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
                reason="never reached the engine",
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
                failure_reason="never reached the engine",
                created_at=attempt.created_at,
                updated_at=now,
            )
        self._written()
        return view

    # -- open payments left by an earlier run -------------------------------------------------------

    def pending(self) -> list[PendingRow]:
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
            view = await self.client.get_payment(out_trade_no)
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
        view = await self.client.cancel_payment(out_trade_no, request)
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
                    report.failures[row.out_trade_no] = exc.message
        if refunds:
            for out_trade_no, out_refund_no in await asyncio.to_thread(self.open_refunds):
                try:
                    report.refunds[out_refund_no] = await self.settle_refund(out_trade_no, out_refund_no)
                except PosError as exc:
                    report.failures[out_refund_no] = exc.message
        return report

    def open_refunds(self) -> list[tuple[str, str]]:
        """(out_trade_no, out_refund_no) of every refund still waiting for a definite answer."""
        with journal.session_scope(self.journal) as session:
            return [(r.out_trade_no, r.out_refund_no) for r in journal.unsettled_refunds(session)]

    async def settle_refund(self, out_trade_no: str, out_refund_no: str) -> RefundState:
        """Send an open refund again under its SAME out_refund_no (the engine is idempotent: a refund
        it already holds is answered with its state, one it never received is made once)."""
        with journal.session_scope(self.journal) as session:
            refund = journal.get_refund(session, out_refund_no)
            if refund is None:
                raise PosError(f"No refund {out_refund_no} on this till.")
            amount_fen, reason, cashier = refund.amount_fen, refund.reason, refund.cashier
        return await self.send_refund(
            out_trade_no, out_refund_no, amount_fen, reason=reason or "refund", operator=self.cashier or cashier
        )

    # -- cash -------------------------------------------------------------------------------------

    def cash_sale(self, draft: SaleDraft, tendered_fen: int) -> ReceiptData:
        cashier = self._operator()
        at = self.clock()
        with journal.session_scope(self.journal) as session:
            sale = journal.record_cash_sale(
                session,
                terminal_id=self.terminal_id,
                store_id=self.store_id,
                cashier=cashier,
                subject=draft.subject,
                at=at,
                amount_fen=draft.amount_fen,
                lines=_lines(draft),
                tendered_fen=tendered_fen,
            )
            number = sale.out_trade_no
        self._written()
        return self._receipt(number, draft, Channel.CASH, cashier, at, tendered_fen=tendered_fen)

    # -- refunds and voids --------------------------------------------------------------------------

    def refundable_fen(self, out_trade_no: str) -> int:
        with journal.session_scope(self.journal) as session:
            sale = journal.get_sale(session, out_trade_no)
            return 0 if sale is None else journal.refundable_fen(session, sale)

    @staticmethod
    def _open_refund(session: Session, out_trade_no: str) -> str | None:
        """An earlier refund of this sale still waiting for a definite answer (PENDING/UNKNOWN): a
        retry sends it again under its own out_refund_no instead of creating a second refund."""
        for refund in journal.sale_refunds(session, out_trade_no):
            if refund.state in (RefundState.PENDING, RefundState.UNKNOWN):
                return refund.out_refund_no
        return None

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
                raise PosError(f"No sale {out_trade_no} on this till.")
            cash = Channel(sale.channel) == Channel.CASH
            existing = None if cash else self._open_refund(session, out_trade_no)
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
        if cash:
            return RefundState.SUCCESS
        return await self.send_refund(out_trade_no, out_refund_no, amount_fen, reason=reason)

    async def send_refund(
        self, out_trade_no: str, out_refund_no: str, amount_fen: int, *, reason: str, operator: str | None = None
    ) -> RefundState:
        request = CreateRefund(
            out_refund_no=out_refund_no,
            amount_fen=amount_fen,
            reason=reason[:80],
            operator=operator or self._operator(),
        )
        try:
            view = await self.client.create_refund(out_trade_no, request)
        except EngineConflict:
            # A definite refusal (e.g. the payment was voided meanwhile): the journaled refund never
            # happened; leaving it PENDING would re-send it forever.
            self._refund_refused(out_refund_no)
            raise
        self.apply_refund(view)
        return view.state

    def _refund_refused(self, out_refund_no: str) -> None:
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
        self._written()

    def apply_refund(self, view: RefundView) -> bool:
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

    def void_cash(self, out_trade_no: str, *, reason: str, manager: str) -> None:
        cashier = self._operator()
        with journal.session_scope(self.journal) as session:
            journal.void_cash_sale(
                session, out_trade_no, cashier=cashier, approved_by=manager, at=self.clock(), reason=reason
            )
        self._written()

    # -- history ------------------------------------------------------------------------------------

    def history(self, query: str = "", day: date | None = None) -> list[SaleRow]:
        when = day or self.clock().astimezone().date()
        with journal.session_scope(self.journal) as session:
            sales = journal.list_sales(session, when, query, terminal_id=self.terminal_id)
            return [
                SaleRow(
                    s.out_trade_no,
                    s.created_at,
                    s.cashier,
                    Channel(s.channel),
                    s.amount_fen,
                    s.refunded_fen,
                    PaymentState(s.state),
                    s.subject,
                    s.transaction_id,
                )
                for s in sales
            ]

    def sale(self, out_trade_no: str) -> SaleRow | None:
        with journal.session_scope(self.journal) as session:
            s = journal.get_sale(session, out_trade_no)
            if s is None:
                return None
            return SaleRow(
                s.out_trade_no,
                s.created_at,
                s.cashier,
                Channel(s.channel),
                s.amount_fen,
                s.refunded_fen,
                PaymentState(s.state),
                s.subject,
                s.transaction_id,
            )

    def trail(self, out_trade_no: str) -> list[TrailRow]:
        with journal.session_scope(self.journal) as session:
            events = journal.sale_events(session, out_trade_no)
            return [TrailRow(e.seq, e.at, e.kind, _summary(e.kind, e.payload)) for e in events]

    def unsent_count(self) -> int:
        with journal.session_scope(self.journal) as session:
            return journal.unsent_count(session, terminal_id=self.terminal_id)

    def sent_count(self) -> int:
        """Journal events of this terminal the engine has acknowledged."""
        with journal.session_scope(self.journal) as session:
            statement = (
                select(func.count())
                .select_from(journal.OutboxEntry)
                .where(col(journal.OutboxEntry.terminal_id) == self.terminal_id)
                .where(col(journal.OutboxEntry.sent_at).is_not(None))
            )
            return int(session.exec(statement).one())

    async def engine_reachable(self) -> bool:
        return await self.client.healthz()

    # -- receipts -----------------------------------------------------------------------------------

    def receipt_for(self, attempt: Attempt) -> ReceiptData:
        view = attempt.view
        return self._receipt(
            attempt.out_trade_no,
            attempt.draft,
            attempt.channel,
            attempt.cashier,
            (view.paid_at if view and view.paid_at else attempt.created_at),
            transaction_id=view.transaction_id if view else None,
            masked=(view.masked_auth_code if view and view.masked_auth_code else None)
            or (attempt.routed.masked if attempt.routed else None),
        )

    def _receipt(
        self,
        out_trade_no: str,
        draft: SaleDraft,
        channel: Channel,
        cashier: str,
        at: datetime,
        *,
        tendered_fen: int | None = None,
        transaction_id: str | None = None,
        masked: str | None = None,
    ) -> ReceiptData:
        terminal = self.settings.terminal
        return ReceiptData(
            store_name=terminal.store_name,
            terminal_name=terminal.name,
            cashier=cashier,
            at=at.astimezone(),
            out_trade_no=out_trade_no,
            amount_fen=draft.amount_fen,
            channel=channel,
            lines=tuple(draft.lines),
            subject=draft.subject,
            transaction_id=transaction_id,
            masked_auth_code=masked,
            tendered_fen=tendered_fen,
            sandbox=terminal.sandbox,
        )


def _summary(kind: str, payload: dict[str, object]) -> str:
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
        text = f"refund {payload.get('out_refund_no')}"
        if isinstance(amount, int):
            text += f" {format_fen(amount)}"
        if payload.get("to"):
            text += f" {payload.get('from')} → {payload.get('to')}"
        if payload.get("approved_by"):
            text += f" approved by {payload['approved_by']}"
    elif kind == "sale.cash":
        change = payload.get("change_fen")
        text = f"cash sale, change {format_fen(change)}" if isinstance(change, int) else "cash sale, exact"
    else:
        text = kind
    return f"{text} — {who}" if who else text
