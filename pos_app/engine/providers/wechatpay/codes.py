"""WeChat Pay answers → what the cashier reads and which error class (spec §4).

Every code the spec names is here; an unlisted 4xx code is a definite refusal with a generic
message, an unlisted 5xx is an unknown outcome.
"""

from __future__ import annotations

from pos_app.domain.states import PaymentState

#: Outcome not known: query before deciding anything (retry with the same parameters is allowed).
UNKNOWN_CODES = frozenset(
    {
        "SYSTEM_ERROR",
        "SYSTEMERROR",
        "BANK_ERROR",
        "BANKERROR",
        "SERVICE_UNAVAILABLE",
        "RATELIMIT_EXCEEDED",
        "FREQUENCY_LIMITED",
    }
)

#: Codepay: the customer must confirm (password) — poll the order.
USER_PAYING_CODES = frozenset({"USERPAYING", "USER_PAYING"})

#: The order/refund does not exist at the gateway.
NOT_FOUND_CODES = frozenset({"ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS"})

#: Close refused because the order is already paid: settle by query.
ALREADY_PAID_CODES = frozenset({"ORDERPAID", "ORDER_PAID", "TRADE_PAID"})

#: An operator must fix the configuration (keys, ids, permissions) — retrying will not help.
CONFIGURATION_CODES: dict[str, str] = {
    "SIGN_ERROR": "WeChat Pay refused our signature — check the merchant key and serial number.",
    "SIGNERROR": "WeChat Pay refused our signature — check the merchant key and serial number.",
    "NO_AUTH": "WeChat Pay says this merchant may not use this payment method — contact the administrator.",
    "NOAUTH": "WeChat Pay says this merchant may not use this payment method — contact the administrator.",
    "APPID_MCHID_NOT_MATCH": "WeChat Pay appid and mchid do not match — check the configuration.",
    "MCH_NOT_EXISTS": "WeChat Pay does not know this merchant id — check the configuration.",
    "PARAM_ERROR": "WeChat Pay refused a request parameter — contact the administrator.",
    "LACK_PARAMS": "WeChat Pay refused a request parameter — contact the administrator.",
}

#: Definite refusals: no money moved. Messages say what to do next.
DEFINITE_REASONS: dict[str, str] = {
    "AUTHCODEEXPIRE": "Payment code expired — ask the customer to refresh it",
    "AUTH_CODE_EXPIRE": "Payment code expired — ask the customer to refresh it",
    "NOTENOUGH": "Insufficient balance — ask the customer to switch card or pay another way",
    "NOT_ENOUGH": "Insufficient balance — ask the customer to switch card or pay another way",
    "NOTSUPORTCARD": "This card is not supported — ask the customer to switch card or pay another way",
    "AUTH_CODE_ERROR": "Payment code already used or wrong — ask the customer to refresh it",
    "AUTH_CODE_INVALID": "Not a valid WeChat payment code — ask the customer to show the code again",
    "BUYER_MISMATCH": "The payer does not match this order — start a new sale",
    "ORDERCLOSED": "This order was closed — start a new sale",
    "ORDER_CLOSED": "This order was closed — start a new sale",
    "ORDERREVERSED": "This order was reversed — start a new sale",
    "OUT_TRADE_NO_USED": "This order number was already used — start a new sale",
    "TRADE_ERROR": "WeChat Pay refused the payment (risk control) — ask the customer to pay another way",
    "RULE_LIMIT": "WeChat Pay refused the payment (limit reached) — ask the customer to pay another way",
    "PAYERROR": "The payment failed — ask the customer to pay another way",
    "REVERSE_EXPIRE": "This order is too old to reverse — refund it instead",
    "USER_ACCOUNT_ABNORMAL": "The customer's account cannot receive the refund — refund another way",
}

#: Request-ID suffix of "只能撤销": close refused for a codepay order (spec §4).
RID_CLOSE_NEEDS_REVERSE = 268449641

GENERIC_REFUSAL = "WeChat Pay refused the request"

#: trade_state → the domain state (spec §4). NOTPAY: native order exists, unpaid.
TRADE_STATES: dict[str, PaymentState] = {
    "SUCCESS": PaymentState.PAID,
    "REFUND": PaymentState.PAID,  # paid, refunds exist (the refund records say how much)
    "NOTPAY": PaymentState.AWAITING_SCAN,
    "CLOSED": PaymentState.CLOSED,
    "REVOKED": PaymentState.REVERSED,
    "USERPAYING": PaymentState.USER_PAYING,
    "ACCEPT": PaymentState.USER_PAYING,
    "PAYERROR": PaymentState.FAILED,
}


def refusal_reason(code: str, message: str = "") -> str:
    """The cashier's text. INVALID_REQUEST ("format fine, business rule broken": refund over the
    remaining amount, reversed order, …) and unlisted codes carry WeChat's own message."""
    known = DEFINITE_REASONS.get(code) or CONFIGURATION_CODES.get(code)
    if known:
        return known
    said = f": {message.strip()[:80]}" if message.strip() else ""
    return f"{GENERIC_REFUSAL} ({code}{said})"
