"""The day's reconciliation report: per channel counts, amounts, fees, net and open items.

:class:`ReconcileReport` is the data structure the manager dashboard renders; ``to_dict``/``to_json``
and ``to_csv`` are the files uploaded and archived; ``to_table`` is what ``pos reconcile`` prints.
All amounts are int fen (fees are exact millifen with a rounded fen figure beside them).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow.compute as pc

from pos_app.domain.money import fen_to_yuan
from pos_app.domain.routing import Channel
from pos_app.domain.states import RefundState
from pos_app.engine.reconcile.bill import PAID, PAYMENT, REFUND_SUCCESS, REVOKED, Bill, reversal_mask
from pos_app.engine.reconcile.bill_values import millifen_to_fen
from pos_app.engine.reconcile.inputs import LedgerRefund
from pos_app.engine.reconcile.results import ChannelMatch, OpenItem


@dataclass(slots=True)
class ChannelSummary:
    channel: Channel
    status: str = "ok"  # ok | not_ready | failed | disabled
    problem: str | None = None  # why the channel could not be reconciled, for the manager
    bill_rows: int = 0
    payments: int = 0
    payments_fen: int = 0
    reversed: int = 0
    refunds: int = 0
    refunds_fen: int = 0
    fee_millifen: int = 0
    settled_fen: int = 0  # what the provider credits: settlement amounts minus refunds
    ledger_payments: int = 0
    ledger_payments_fen: int = 0
    ledger_refunds: int = 0
    ledger_refunds_fen: int = 0
    matched: int = 0
    auto_settled: int = 0
    open_items: int = 0

    @property
    def fee_fen(self) -> int:
        return millifen_to_fen(self.fee_millifen)

    @property
    def net_fen(self) -> int:
        """What reaches the merchant's account for the day: settled amount minus fees."""
        return self.settled_fen - self.fee_fen

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel.value,
            "status": self.status,
            "problem": self.problem,
            "bill_rows": self.bill_rows,
            "payments": self.payments,
            "payments_fen": self.payments_fen,
            "reversed": self.reversed,
            "refunds": self.refunds,
            "refunds_fen": self.refunds_fen,
            "fee_fen": self.fee_fen,
            "fee_millifen": self.fee_millifen,
            "net_fen": self.net_fen,
            "ledger_payments": self.ledger_payments,
            "ledger_payments_fen": self.ledger_payments_fen,
            "ledger_refunds": self.ledger_refunds,
            "ledger_refunds_fen": self.ledger_refunds_fen,
            "matched": self.matched,
            "auto_settled": self.auto_settled,
            "open_items": self.open_items,
        }


def summarise(
    channel: Channel,
    bill: Bill,
    refunds: list[LedgerRefund],
    match: ChannelMatch,
) -> ChannelSummary:
    """Totals of one channel from its bill (the provider's truth) beside the ledger's."""
    s = ChannelSummary(channel, bill_rows=len(bill))
    # Whole columns in Arrow kernels: a day's bill can hold a million rows.
    kind, status = bill.kind.arrow, bill.status.arrow
    amount, settle = bill.amount_fen.arrow, bill.settle_fen.arrow
    is_payment = pc.equal(kind, PAYMENT)
    other = pc.invert(is_payment)
    paid = pc.and_(is_payment, pc.equal(status, PAID))
    reversal = reversal_mask(bill)
    refunded = pc.and_(pc.and_not(other, reversal), pc.equal(status, REFUND_SUCCESS))
    s.payments = _count(paid)
    s.payments_fen = _sum(pc.filter(amount, paid))
    s.reversed = _count(pc.and_(is_payment, pc.equal(status, REVOKED))) + _count(reversal)
    s.refunds = _count(refunded)
    s.refunds_fen = _sum(pc.filter(amount, refunded))
    s.settled_fen = _sum(pc.filter(settle, paid)) - _sum(pc.filter(settle, pc.or_(reversal, refunded)))
    s.fee_millifen = _sum(bill.fee_millifen.arrow)
    s.ledger_payments = match.ledger_paid
    s.ledger_payments_fen = match.ledger_paid_fen
    done = [r for r in refunds if r.due and r.state == RefundState.SUCCESS.value]
    s.ledger_refunds = len(done)
    s.ledger_refunds_fen = sum(r.amount_fen for r in done)
    s.matched = match.matched
    s.auto_settled = len(match.settled)
    s.open_items = len(match.open_items)
    return s


def _count(mask: Any) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _sum(values: Any) -> int:
    return int(pc.sum(values).as_py() or 0)


@dataclass(slots=True)
class ReconcileReport:
    day: date
    generated_at: datetime
    channels: list[ChannelSummary] = field(default_factory=list)
    items: list[OpenItem] = field(default_factory=list)  # open items and what was settled
    journals_compared: bool = False

    @property
    def open_items(self) -> list[OpenItem]:
        return [item for item in self.items if item.is_open]

    @property
    def complete(self) -> bool:
        """Every enabled channel's bill was reconciled (none still not ready or failed)."""
        return all(c.status in ("ok", "disabled") for c in self.channels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "complete": self.complete,
            "journals_compared": self.journals_compared,
            "channels": [c.to_dict() for c in self.channels],
            "open_items": [i.to_dict() for i in self.open_items],
            "settled": [i.to_dict() for i in self.items if not i.is_open],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=False) + "\n"

    def to_csv(self) -> str:
        """Two tables in one file: the per-channel totals, a blank line, then the items (yuan)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            ["date", "channel", "status", "payments", "amount", "reversed", "refunds", "refunded", "fees", "net",
             "ledger_payments", "ledger_amount", "matched", "auto_settled", "open_items"]
        )  # fmt: skip
        for c in self.channels:
            writer.writerow(
                [self.day.isoformat(), c.channel.value, c.status, c.payments, fen_to_yuan(c.payments_fen), c.reversed,
                 c.refunds, fen_to_yuan(c.refunds_fen), fen_to_yuan(c.fee_fen), fen_to_yuan(c.net_fen),
                 c.ledger_payments, fen_to_yuan(c.ledger_payments_fen), c.matched, c.auto_settled, c.open_items]
            )  # fmt: skip
        writer.writerow([])
        writer.writerow(
            ["date", "channel", "kind", "open", "out_trade_no", "out_refund_no", "bill", "engine", "terminal_journal",
             "terminal", "bill_line", "detail", "action"]
        )  # fmt: skip
        for i in self.items:
            writer.writerow(
                [self.day.isoformat(), i.channel.value, i.kind.value, "yes" if i.is_open else "no", i.out_trade_no,
                 i.out_refund_no or "", _yuan_or_blank(i.bill_fen), _yuan_or_blank(i.ledger_fen),
                 _yuan_or_blank(i.journal_fen), i.terminal_id or "", i.bill_line or "", i.detail, i.action]
            )  # fmt: skip
        return out.getvalue()

    def to_table(self) -> str:
        """Plain-text table for a terminal."""
        lines = [f"Reconciliation {self.day.isoformat()}" + ("" if self.complete else "  (INCOMPLETE)")]
        head = f"{'channel':<8} {'status':<10} {'paid':>6} {'amount':>12} {'refunds':>7} {'refunded':>11} "
        head += f"{'fees':>9} {'net':>12} {'open':>5}"
        lines.append(head)
        for c in self.channels:
            lines.append(
                f"{c.channel.value:<8} {c.status:<10} {c.payments:>6} {fen_to_yuan(c.payments_fen):>12} "
                f"{c.refunds:>7} {fen_to_yuan(c.refunds_fen):>11} {fen_to_yuan(c.fee_fen):>9} "
                f"{fen_to_yuan(c.net_fen):>12} {c.open_items:>5}"
            )
            if c.problem:
                lines.append(f"         {c.problem}")
        settled = [i for i in self.items if not i.is_open]
        if settled:
            lines.append("")
            lines.append(f"Settled from the bills ({len(settled)}):")
            lines.extend(f"  {i.channel.value} {i.out_trade_no}: {i.detail}" for i in settled)
        opened = self.open_items
        lines.append("")
        lines.append(f"Open items ({len(opened)}):" if opened else "No open items.")
        for i in opened:
            ref = f" {i.out_refund_no}" if i.out_refund_no else ""
            lines.append(f"  [{i.kind.value}] {i.channel.value} {i.out_trade_no}{ref}: {i.detail}")
            lines.append(f"      → {i.action}")
        return "\n".join(lines) + "\n"


def _yuan_or_blank(value: int | None) -> str:
    return "" if value is None else fen_to_yuan(value)
