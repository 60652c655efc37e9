"""Every sale of a range of business days as rows for a CSV or XLSX export (amounts as fen and yuan
text, never floats)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlmodel import Session, col, select

from pos_app.domain.money import fen_to_yuan
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.journal.days import as_day
from pos_app.journal.models import Sale

#: The columns of a sales export, in order.
EXPORT_COLUMNS: tuple[str, ...] = (
    "business_day",
    "time",
    "out_trade_no",
    "terminal_id",
    "cashier",
    "channel",
    "mode",
    "state",
    "amount_fen",
    "refunded_fen",
    "amount",
    "refunded",
    "transaction_id",
    "subject",
)


def export_rows(
    session: Session, first: date | str, last: date | str, *, terminal_id: str | None = None
) -> Iterator[tuple[str | int, ...]]:
    """Every sale of the business days [first, last] (all states), oldest first, as EXPORT_COLUMNS.
    ``amount``/``refunded`` are the same figures as yuan text (``"12.30"``), never floats."""
    statement = select(Sale).where(
        Sale.business_day >= as_day(first).isoformat(), Sale.business_day <= as_day(last).isoformat()
    )
    if terminal_id is not None:
        statement = statement.where(Sale.terminal_id == terminal_id)
    for sale in session.exec(statement.order_by(col(Sale.created_at), col(Sale.id))):
        yield (
            sale.business_day,
            sale.created_at.astimezone().strftime("%H:%M:%S"),
            sale.out_trade_no,
            sale.terminal_id,
            sale.cashier,
            Channel(sale.channel).value,
            str(sale.mode.value if hasattr(sale.mode, "value") else sale.mode),
            PaymentState(sale.state).value,
            sale.amount_fen,
            sale.refunded_fen,
            fen_to_yuan(sale.amount_fen),
            fen_to_yuan(sale.refunded_fen),
            sale.transaction_id or "",
            sale.subject,
        )
