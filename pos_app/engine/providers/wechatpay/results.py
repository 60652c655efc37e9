"""WeChat Pay's transaction and refund objects as the typed results of providers/base.py.

Shared by the client's answers (query, codepay, refund) and the decrypted notifications
(:mod:`.notifications`). The tables of codes live in :mod:`.codes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.providers.base import OutcomeUnknownError, RefundResult, ResponseVerificationError, TradeResult
from pos_app.engine.providers.wechatpay import codes

REFUND_STATES: dict[str, RefundState] = {
    "SUCCESS": RefundState.SUCCESS,
    "PROCESSING": RefundState.PROCESSING,
    "CLOSED": RefundState.FAILED,
    "ABNORMAL": RefundState.FAILED,
}
REFUND_REASONS = {
    "CLOSED": "The refund was closed by WeChat Pay — refund another way",
    "ABNORMAL": "The refund could not reach the customer's account — contact WeChat Pay support",
}


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def inconclusive(detail: str, code: str) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"WeChat Pay's answer is not conclusive ({detail}) — the result is being checked, do not charge again.",
        code=code,
    )


def trade_result(data: Mapping[str, Any], *, out_trade_no: str | None = None) -> TradeResult:
    """A WeChat transaction object (query, codepay answer, decrypted notification) as a TradeResult."""
    trade_state = str(data.get("trade_state", ""))
    state = codes.TRADE_STATES.get(trade_state)
    if state is None:
        raise inconclusive(f"trade_state {trade_state[:32]!r}", "UNKNOWN_TRADE_STATE")
    number = str(data.get("out_trade_no") or out_trade_no or "")
    if out_trade_no is not None and data.get("out_trade_no") not in (None, out_trade_no):
        raise ResponseVerificationError(
            "WeChat Pay answered about another order — the result is being checked.", code="ORDER_MISMATCH"
        )
    amount = as_mapping(data.get("amount"))
    return TradeResult(
        out_trade_no=number,
        state=state,
        transaction_id=data.get("transaction_id") or None,
        amount_fen=int_or_none(amount.get("total")),
        paid_at=parse_time(data.get("success_time")) if state is PaymentState.PAID else None,
        reason=codes.DEFINITE_REASONS["PAYERROR"] if state is PaymentState.FAILED else None,
        gateway_code=trade_state,
        raw=dict(data),
    )


def refund_result(data: Mapping[str, Any], *, out_trade_no: str | None = None) -> RefundResult:
    """A WeChat refund object (refund answer, refund query, decrypted REFUND.* resource)."""
    status = str(data.get("status") or data.get("refund_status") or "")
    state = REFUND_STATES.get(status)
    if state is None:
        raise inconclusive(f"refund status {status[:32]!r}", "UNKNOWN_REFUND_STATUS")
    amount = as_mapping(data.get("amount"))
    return RefundResult(
        out_trade_no=str(data.get("out_trade_no") or out_trade_no or ""),
        out_refund_no=str(data.get("out_refund_no", "")),
        state=state,
        amount_fen=int_or_none(amount.get("refund")) or 0,
        refund_id=data.get("refund_id") or None,
        reason=REFUND_REASONS.get(status),
        raw=dict(data),
    )
