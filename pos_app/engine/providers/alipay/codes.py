"""Alipay answers → what the cashier reads and which error class (spec §2, §3)."""

from __future__ import annotations

from pos_app.domain.states import PaymentState

SUCCESS = "10000"
PAYING = "10003"  # alipay.trade.pay only: the buyer must confirm in the wallet
UNKNOWN = "20000"
BUSINESS_FAILED = "40004"
#: 20001 bad auth token, 40001 missing argument (our bug), 40002 invalid argument/signature/app id,
#: 40006 product not signed: an operator must act, retrying will not help.
CONFIGURATION_CODES = frozenset({"20001", "40001", "40002", "40006"})

#: Unknown outcome even under 40004 (spec §2: "always treat as unknown").
UNKNOWN_SUB_CODES = frozenset({"ACQ.SYSTEM_ERROR", "isp.unknow-error", "isp.unknown-error"})
CONFIGURATION_SUB_CODES = frozenset({"ACQ.ACCESS_FORBIDDEN", "ACQ.INVALID_PARAMETER"})

TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
TRADE_HAS_SUCCESS = "ACQ.TRADE_HAS_SUCCESS"
TRADE_STATUS_ERROR = "ACQ.TRADE_STATUS_ERROR"

DEFINITE_REASONS: dict[str, str] = {
    "ACQ.PAYMENT_AUTH_CODE_INVALID": "Payment code expired or invalid — ask the customer to refresh it",
    "ACQ.BUYER_BALANCE_NOT_ENOUGH": "Insufficient balance — ask the customer to switch card or pay another way",
    "ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH": (
        "Insufficient balance — ask the customer to switch card or pay another way"
    ),
    "ACQ.PAYMENT_FAIL": "The payment failed — ask the customer to pay another way",
    "ACQ.PULL_MOBILE_CASHIER_FAIL": "The customer's phone could not confirm — scan a fresh code or pay another way",
    "ACQ.PAYMENT_REQUEST_HAS_RISK": "Alipay refused the payment (risk control) — ask the customer to pay another way",
    "ACQ.TRADE_HAS_CLOSE": "This order was closed — start a new sale",
    "ACQ.CONTEXT_INCONSISTENT": "This order number was used with other details — start a new sale",
    "ACQ.TOTAL_FEE_EXCEED": "The amount is outside what Alipay accepts — check the amount",
    "ACQ.TRADE_CANCEL_TIME_OUT": "Too late to cancel this payment — refund it instead",
    "ACQ.CANCEL_NOT_ALLOWED": "Alipay does not allow cancelling this payment — refund it instead",
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": "The merchant's Alipay balance is too low for this — top it up and retry",
    "ACQ.REASON_TRADE_REFUND_FEE_ERR": "This payment has already been refunded",
    "ACQ.DISCORDANT_REPEAT_REQUEST": "This refund number was already used with another amount — contact support",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": "The refund is more than what remains of the payment",
    "ACQ.TRADE_NOT_ALLOW_REFUND": "This payment can no longer be refunded",
    "ACQ.TRADE_STATUS_ERROR": "The payment is not in a state that allows this",
    "isp.bill_not_exist": "The Alipay bill for that day is not available yet — try again later",
}

TRADE_STATUSES: dict[str, PaymentState] = {
    "WAIT_BUYER_PAY": PaymentState.AWAITING_SCAN,
    "TRADE_SUCCESS": PaymentState.PAID,
    "TRADE_FINISHED": PaymentState.PAID,
    "TRADE_CLOSED": PaymentState.CLOSED,
}


def refusal_reason(sub_code: str) -> str:
    return DEFINITE_REASONS.get(sub_code) or f"Alipay refused the request ({sub_code or 'no reason'}) — pay another way"
