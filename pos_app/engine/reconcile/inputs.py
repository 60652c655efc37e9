"""What the matcher reads of the engine and the terminals: payments, refunds, journaled sales, lookups."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pos_app.domain.routing import Channel

#: One engine payment as the matcher reads it: (out_trade_no, state, amount_fen, terminal_id, due).
#: ``due`` is 1 when the payment must appear in this day's bill if it was paid (paid within the day).
LedgerRow = tuple[str, str, int, str, int]


@dataclass(frozen=True, slots=True)
class LedgerPayment:
    """One engine payment looked at on its own: the few that are not plainly matched in bulk."""

    out_trade_no: str
    state: str  # PaymentState value
    amount_fen: int
    terminal_id: str
    due: bool  # see LedgerRow


@dataclass(slots=True)
class LedgerPayments:
    """The engine's payments of one channel, column by column.

    ``due`` marks the payments that must appear in this day's bill if they were paid (paid within
    the bill day); payments of the window that were paid on another day are matched when the bill
    has them and never reported missing.
    """

    out_trade_no: list[str] = field(default_factory=list)
    state: list[str] = field(default_factory=list)  # PaymentState values
    amount_fen: array[int] = field(default_factory=lambda: array("q"))
    terminal_id: list[str] = field(default_factory=list)
    due: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.out_trade_no)

    def __iter__(self) -> Iterator[LedgerRow]:
        return zip(self.out_trade_no, self.state, self.amount_fen, self.terminal_id, self.due, strict=True)

    def append(self, out_trade_no: str, state: str, amount_fen: int, terminal_id: str, due: bool) -> None:
        self.out_trade_no.append(out_trade_no)
        self.state.append(state)
        self.amount_fen.append(amount_fen)
        self.terminal_id.append(terminal_id)
        self.due.append(1 if due else 0)


@dataclass(frozen=True, slots=True)
class LedgerRefund:
    """One engine refund as the matcher reads it."""

    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    state: str  # RefundState value
    due: bool = True  # succeeded (or was asked for) within the bill day


@dataclass(frozen=True, slots=True)
class JournalSale:
    """A wallet payment as a terminal journaled it (the last state the terminal knew)."""

    out_trade_no: str
    terminal_id: str
    channel: Channel
    amount_fen: int
    state: str  # PaymentState value


#: A batch of payments the engine has as PAID, paid within the bill day, as two columns:
#: (out_trade_nos, amounts_fen), Python sequences or Arrow arrays (string, int64).
PaidBatch = tuple[Sequence[str] | Any, Sequence[int] | Any]
#: out_trade_nos → their terminal ids (for the few bulk-read payments that become items).
TerminalLookup = Callable[[list[str]], dict[str, str]]

#: Fetches ledger rows of other days for bill rows the day's window did not hold: payments
#: (out_trade_nos → LedgerRow with due=0) and refunds (out_refund_nos → LedgerRefund list).
PaymentLookup = Callable[[list[str]], Iterable[LedgerRow]]
RefundLookup = Callable[[list[str]], list[LedgerRefund]]
