"""The Refunds page: a business day's refunds in the viewer's stores (a refund's store is its payment's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from pos_app.engine.store.models import Payment, Refund


@dataclass(frozen=True)
class RefundRow:
    refund: Refund
    store_id: str


def refunds_of_day(engine: Engine, day: str, stores: tuple[str, ...] | None) -> list[RefundRow]:
    query = (
        select(Refund, Payment.store_id)
        .join(Payment, col(Payment.out_trade_no) == col(Refund.out_trade_no))
        .where(col(Refund.business_day) == day)
        .order_by(col(Refund.id).desc())
    )
    if stores is not None:
        query = query.where(col(Payment.store_id).in_(stores))
    with Session(engine) as session:
        return [RefundRow(refund, store_id) for refund, store_id in session.exec(query).all()]
