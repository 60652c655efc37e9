"""One till of the chain driven through its real use cases (pos_app.terminal.till.Till, no screen):
sales, refunds and voids with a manager's PIN, shifts, the Z report, and the journal synced to the engine.

Every step waits for the engine's definite answer before the next one (polling with a deadline), so
a day's operations are applied in order and the simulated clock can jump forward between them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import httpx

from pos_app import journal
from pos_app.api.auth import decode_key
from pos_app.api.client import EngineClient
from pos_app.demo_chain.clock import SimClock
from pos_app.demo_chain.plan import FLOAT_COUNTS, Kind, Op, Person
from pos_app.demo_chain.profile import ChainTill
from pos_app.domain.cash import DENOMINATIONS_FEN
from pos_app.domain.routing import Channel, route_auth_code
from pos_app.domain.states import SETTLED_STATES, PaymentState, RefundState
from pos_app.sync.outbox import OutboxDrain
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.history import SaleRow
from pos_app.terminal.sales import Attempt
from pos_app.terminal.till import Till

#: How long (real seconds) one step may wait for the engine before the generator gives up on it.
STEP_DEADLINE_S = 20.0
#: Simulated time a refund waits before it is looked at again (the sandbox settles WeChat refunds in 3 s).
REFUND_WAIT_S = 5.0
FINAL_REFUNDS = frozenset({RefundState.SUCCESS, RefundState.FAILED})

T = TypeVar("T")


class DemoStepFailed(RuntimeError):
    """A step of the simulated day did not reach its expected end (a bug, or the machine far too slow)."""


@dataclass
class TillDay:
    """What one till did on one simulated day (for the progress line and the summary)."""

    counts: dict[str, int] = field(default_factory=dict)
    drawer_fen: int = 0

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


def counts_for(amount_fen: int) -> dict[int, int]:
    """A drawer holding ``amount_fen`` counted by denomination, largest first (amounts are in jiao)."""
    counts: dict[int, int] = {}
    left = amount_fen
    for denomination in DENOMINATIONS_FEN:
        pieces, left = divmod(left, denomination)
        if pieces:
            counts[denomination] = pieces
    if left:
        raise ValueError(f"{amount_fen} fen cannot be counted in notes and coins")
    return counts


async def wait_for(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str) -> T:
    """Poll ``read`` until ``done`` says so, within :data:`STEP_DEADLINE_S` real seconds."""
    deadline = time.monotonic() + STEP_DEADLINE_S
    while True:
        value = await read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise DemoStepFailed(f"{what}: no final answer within {STEP_DEADLINE_S:.0f} s")
        await asyncio.sleep(0.01)


class ChainTillDriver:
    """The till of one terminal over its own journal file, its engine client signing on the simulated clock."""

    def __init__(self, till: ChainTill, clock: SimClock, sandbox: httpx.AsyncClient) -> None:
        settings = till.settings
        terminal = settings.terminal
        self.spec, self.store, self.clock, self.sandbox = till.spec, till.store, clock, sandbox
        self.journal = journal.open_journal(settings.path(terminal.journal_path))
        key = decode_key(settings.path(terminal.terminal_key_file).read_text("utf-8"))
        client = EngineClient(terminal.engine_url, terminal.terminal_id, key, clock=clock.unix)
        self.till = Till(settings, self.journal, client, clock=clock.utc)
        self.drain = OutboxDrain(self.journal, client, terminal.terminal_id, clock=clock.utc)
        self.day = TillDay()

    async def aclose(self) -> None:
        await self.till.client.aclose()
        self.journal.dispose()

    # -- the day's frame ------------------------------------------------------------------------------

    def open_day(self, cashier: Person) -> None:
        self.day = TillDay()
        self.till.login(cashier.pin, cashier.name)
        self.day.drawer_fen = self.till.open_shift(FLOAT_COUNTS)
        self.day.count("shift opened")

    async def close_day(self, day: date) -> dict[str, Any]:
        """Settle what is open, close the shift counted blind (a manager signs it off), the Z report, sync."""
        report = await self.till.settle_all()
        if report.failures:
            raise DemoStepFailed(f"{self.spec.terminal_id}: could not settle {sorted(report.failures)}")
        result = self.till.close_shift(counts_for(self.day.drawer_fen))
        manager = self._manager()
        self.till.sign_off_close(result.shift_id, manager)
        z = self.till.close_day(day, manager)
        self.till.logout()
        await self.sync()
        self.day.count("Z report")
        return z

    async def sync(self) -> None:
        """Drain the journal's outbox to the engine until nothing is left unsent."""
        deadline = time.monotonic() + STEP_DEADLINE_S
        while self.till.unsent_count():
            await self.drain.drain_once()
            if time.monotonic() > deadline:
                raise DemoStepFailed(f"{self.spec.terminal_id}: journal upload did not finish")

    def _manager(self) -> str:
        """The store's manager types their PIN at this till (the engine checks it again for money going back)."""
        return self.till.check_manager(self.store.manager.pin)

    # -- operations ---------------------------------------------------------------------------------

    async def run(self, op: Op) -> None:
        handlers: dict[Kind, Callable[[Op], Awaitable[None]]] = {
            Kind.CASH: self.cash,
            Kind.NATIVE: self.native,
            Kind.NATIVE_UNPAID: self.native_unpaid,
            Kind.MICROPAY: self.micropay,
            Kind.MICROPAY_FAILS: self.micropay,
            Kind.REFUND: self.refund,
            Kind.VOID_WALLET: self.void_wallet,
            Kind.VOID_CASH: self.void_cash,
        }
        await handlers[op.kind](op)

    async def cash(self, op: Op) -> None:
        tendered = op.amount_fen if op.amount_fen % 1000 == 0 else (op.amount_fen // 5000 + 1) * 5000
        self.till.cash_sale(SaleDraft(op.amount_fen, "Goods"), tendered)
        self.day.drawer_fen += op.amount_fen
        self.day.count("cash")

    async def native(self, op: Op) -> None:
        attempt = await self.till.start_native(SaleDraft(op.amount_fen, "Goods"), op.channel)
        code_url = attempt.view.code_url if attempt.view else None
        if code_url is None:
            raise DemoStepFailed(f"native QR {attempt.out_trade_no}: no code ({attempt.error})")
        # The customer opens the wallet and scans. (Simulated time jumps inside a group of operations run
        # side by side add up: 4 x 40 s stays well inside a QR code's 5 minutes.)
        self.clock.advance(10)
        paid = await self.sandbox.post("/sandbox/pay", json={"qr": code_url})
        paid.raise_for_status()
        await self.sandbox.post("/sandbox/tick")  # the sandbox completes it now rather than at its next tick
        await self._settled(attempt, PaymentState.PAID)
        self.day.count(f"{op.channel.value} QR")

    async def native_unpaid(self, op: Op) -> None:
        attempt = await self.till.start_native(SaleDraft(op.amount_fen, "Goods"), op.channel)
        self.clock.advance(40)  # the customer changes their mind; the cashier cancels the code
        self.till.request_cancel(attempt, reason="customer left")
        view = await self.till.cancel(attempt, reason="customer left")
        if view.state not in SETTLED_STATES:
            await self._settled(attempt, PaymentState.CLOSED)
        self.day.count("QR cancelled")

    async def micropay(self, op: Op) -> None:
        fails = op.kind is Kind.MICROPAY_FAILS
        body: dict[str, object] = {"channel": op.channel.value}
        if fails:
            body["balance_fen"] = op.amount_fen // 3  # the customer's wallet is short: FAILED
        answer = await self.sandbox.post("/sandbox/authcodes", json=body)
        answer.raise_for_status()
        routed = route_auth_code(answer.json()["auth_code"])
        attempt = await self.till.start_micropay(SaleDraft(op.amount_fen, "Goods"), routed)
        await self._settled(attempt, PaymentState.FAILED if fails else PaymentState.PAID)
        self.day.count("payment failed" if fails else f"{op.channel.value} code")

    async def _settled(self, attempt: Attempt, expected: PaymentState) -> None:
        state = attempt.state
        if state not in SETTLED_STATES:
            view = await wait_for(
                lambda: self.till.refresh(attempt), lambda view: view.state in SETTLED_STATES, attempt.out_trade_no
            )
            attempt.view, state = view, view.state
        if state is not expected:
            raise DemoStepFailed(f"{attempt.out_trade_no}: {state.value}, expected {expected.value}")

    def _today(self, keep: Callable[[SaleRow], bool]) -> list[SaleRow]:
        rows = self.till.history(day=self.till.today())
        return sorted((row for row in rows if keep(row)), key=lambda row: row.out_trade_no)

    async def refund(self, op: Op) -> None:
        rows = self._today(lambda row: row.refundable and row.amount_fen > row.refunded_fen)
        if not rows:
            return
        row = rows[int(op.pick * len(rows))]
        left = row.amount_fen - row.refunded_fen
        amount = left if op.pick < 0.5 else max(10, left // 20 * 10)  # all of it, or about half (in jiao)
        manager = self._manager()
        state = await self.till.refund(row.out_trade_no, amount, reason="customer returned goods", manager=manager)
        if row.channel is Channel.CASH:
            self.day.drawer_fen -= amount
        elif state not in FINAL_REFUNDS:
            state = await self._refund_final(row.out_trade_no)
        if state is not RefundState.SUCCESS:
            raise DemoStepFailed(f"refund of {row.out_trade_no}: {state.value}")
        self.day.count("refund")

    async def _refund_final(self, out_trade_no: str) -> RefundState:
        """Follow the sale's open refund or void until the gateway has settled it."""
        self.clock.advance(REFUND_WAIT_S)
        [(_, out_refund_no)] = [pair for pair in self.till.open_refunds() if pair[0] == out_trade_no]

        async def read() -> RefundState:
            return await self.till.settle_refund(out_trade_no, out_refund_no)

        return await wait_for(read, lambda state: state in FINAL_REFUNDS, out_refund_no)

    async def void_wallet(self, op: Op) -> None:
        rows = self._today(lambda row: row.channel is not Channel.CASH and row.refundable and row.refunded_fen == 0)
        if not rows:
            return
        row = rows[int(op.pick * len(rows))]
        result = await self.till.void_wallet(row.out_trade_no, reason="rang up twice", manager=self._manager())
        state = result.state if result.state in FINAL_REFUNDS else await self._refund_final(row.out_trade_no)
        if state is not RefundState.SUCCESS:
            raise DemoStepFailed(f"void of {row.out_trade_no}: {state.value}")
        self.day.count("void")

    async def void_cash(self, op: Op) -> None:
        rows = self._today(lambda row: row.channel is Channel.CASH and row.refundable and row.refunded_fen == 0)
        if not rows:
            return
        row = rows[int(op.pick * len(rows))]
        self.till.void_cash(row.out_trade_no, reason="rang up twice", manager=self._manager())
        self.day.drawer_fen -= row.amount_fen
        self.day.count("void")
