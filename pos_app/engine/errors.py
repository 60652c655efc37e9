"""The payment engine's use-case errors; the HTTP layer answers each with its own status and code."""

from __future__ import annotations

from pos_app.domain.errors import InputError, PosError


class PaymentNotFound(PosError):
    default_message = "No such payment on this terminal — check the order number."


class RefundNotFound(PosError):
    default_message = "No such refund for this payment — check the refund number."


class IdempotencyConflict(PosError):
    """The same out_trade_no / out_refund_no was used before with different details."""

    default_message = "That order number was already used for a different sale — start a new sale."


class PaymentStateError(PosError):
    """The action is not possible in the payment's current state."""


class RefundAmountError(InputError):
    """A refund over what is left to refund."""


class ChannelUnavailable(PosError):
    default_message = "That payment method is not set up on this engine — use another one."


class OneQrUnavailable(PosError):
    """The engine cannot serve one code for every wallet now (the till shows the per-channel codes)."""

    default_message = "One code for every wallet is not available — show a WeChat or Alipay code."
