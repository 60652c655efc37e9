"""What matching one channel finds: the kinds of difference, open items, settlements, and the action texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState


class Difference(StrEnum):
    """How one payment or refund differs between the sources."""

    MISSING_AT_PROVIDER = "missing_at_provider"  # we have it as paid; the provider's bill does not
    MISSING_LOCALLY = "missing_locally"  # the bill (or the engine) has it; the engine (or a terminal) does not
    AMOUNT_DIFFERS = "amount_differs"
    STATUS_DIFFERS = "status_differs"
    REFUND_DIFFERS = "refund_differs"
    DUPLICATE_IN_BILL = "duplicate_in_bill"
    SETTLED_FROM_BILL = "settled_from_bill"  # not open: the bill proved the outcome and it was applied


@dataclass(frozen=True, slots=True)
class OpenItem:
    """One difference, with what the manager should do about it."""

    kind: Difference
    channel: Channel
    out_trade_no: str
    detail: str
    action: str
    out_refund_no: str | None = None
    missing_from: str | None = None  # "provider", "ledger" or "journal" for MISSING_* items
    bill_fen: int | None = None
    ledger_fen: int | None = None
    journal_fen: int | None = None
    bill_status: str | None = None
    ledger_status: str | None = None
    journal_status: str | None = None
    terminal_id: str | None = None
    bill_line: int | None = None

    @property
    def is_open(self) -> bool:
        return self.kind is not Difference.SETTLED_FROM_BILL

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "channel": self.channel.value,
            "out_trade_no": self.out_trade_no,
            "out_refund_no": self.out_refund_no,
            "missing_from": self.missing_from,
            "bill_fen": self.bill_fen,
            "ledger_fen": self.ledger_fen,
            "journal_fen": self.journal_fen,
            "bill_status": self.bill_status,
            "ledger_status": self.ledger_status,
            "journal_status": self.journal_status,
            "terminal_id": self.terminal_id,
            "bill_line": self.bill_line,
            "detail": self.detail,
            "action": self.action,
            "open": self.is_open,
        }


@dataclass(frozen=True, slots=True)
class Settlement:
    """A ledger change the bill proves. ``out_refund_no`` set: a refund settled to SUCCESS."""

    channel: Channel
    out_trade_no: str
    target: PaymentState | RefundState
    amount_fen: int
    transaction_id: str | None = None
    out_refund_no: str | None = None
    at_s: int = 0  # the bill's time of day of the payment (seconds after local midnight)


@dataclass(slots=True)
class ChannelMatch:
    """The outcome of matching one channel: counts, what the bill settled, and every difference."""

    channel: Channel
    matched: int = 0
    ledger_paid: int = 0  # engine payments with money in, due in this bill (before settling)
    ledger_paid_fen: int = 0
    settled: list[Settlement] = field(default_factory=list)
    items: list[OpenItem] = field(default_factory=list)

    @property
    def open_items(self) -> list[OpenItem]:
        return [item for item in self.items if item.is_open]


ACT_MISSING_AT_PROVIDER = (
    "Look the order up in the provider's merchant platform: if it was not paid, the goods left unpaid — "
    "contact the customer; if it was paid, the payment will be in a later bill."
)
ACT_MISSING_LOCALLY = (
    "The provider collected money the engine has no record of: find the sale (time, terminal) and "
    "record it, or refund the customer from the merchant platform."
)
ACT_AMOUNT = "Compare the receipt with the provider's record; refund or collect the difference."
ACT_NOT_SYNCED = "Start terminal {terminal} so its journal syncs; if it lost the sale, re-enter it from the engine."
ACT_DUPLICATE = "Report the duplicated bill line to the provider; nothing was charged twice in the engine."
ACT_NOTHING = "Nothing to do."
