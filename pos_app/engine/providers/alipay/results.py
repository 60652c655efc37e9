"""Alipay's trade answers and notifications (``trade_status``) as the typed results of providers/base.py,
and the value formats they use (yuan strings, China-time timestamps).

Shared by the client's answers and the notifications (:mod:`.notifications`); codes live in :mod:`.codes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.errors import AmountError
from pos_app.domain.money import yuan_to_fen
from pos_app.domain.states import PaymentState
from pos_app.engine.providers.alipay import codes
from pos_app.engine.providers.base import OutcomeUnknownError, TradeResult

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def inconclusive(detail: str, code: str) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"Alipay's answer is not conclusive ({detail}) — the result is being checked, do not charge again.",
        code=code,
    )


def fen_or_none(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return yuan_to_fen(value)
    except AmountError:
        return None


def cst_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value[:19], TIME_FORMAT).replace(tzinfo=CHINA_TZ)
    except ValueError:
        return None


def trade_status_result(data: Mapping[str, Any], *, out_trade_no: str) -> TradeResult:
    """A query answer or notification (``trade_status``) as a TradeResult."""
    status = str(data.get("trade_status", ""))
    state = codes.TRADE_STATUSES.get(status)
    if state is None:
        raise inconclusive(f"trade_status {status[:32]!r}", "UNKNOWN_TRADE_STATUS")
    refunded = fen_or_none(data.get("refund_fee")) or 0
    total = fen_or_none(data.get("total_amount"))
    if refunded and state is PaymentState.PAID:
        state = PaymentState.REFUNDED if total is not None and refunded >= total else PaymentState.PARTIALLY_REFUNDED
    elif refunded and state is PaymentState.CLOSED:
        state = PaymentState.REFUNDED  # TRADE_CLOSED after a full refund
    paid = state not in (PaymentState.AWAITING_SCAN, PaymentState.CLOSED)
    paid_at = cst_time(data.get("gmt_payment") or data.get("send_pay_date")) if paid else None
    return TradeResult(
        out_trade_no=out_trade_no,
        state=state,
        transaction_id=data.get("trade_no") or None,
        amount_fen=total,
        paid_at=paid_at,
        gateway_code=status,
        refunded_fen=refunded,
        raw=dict(data),
    )
