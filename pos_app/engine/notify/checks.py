"""Why a verified notification must not be applied to the order it names (empty: it may be applied).

A gateway's signature proves who sent a notification, not that it is about our order as we know it.
A notification is applied only if it comes from the order's own gateway, names our merchant and app
(the provider's ``Notification.problems``), states the order's amount, agrees with itself, and does
not move a paid order anywhere but on to its refunds: only our own refund or void moves money back.
Anything else is kept in the inbox as :data:`FLAGGED` with these reasons, for a person to look at.
"""

from __future__ import annotations

from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.providers.base import Notification, TradeResult
from pos_app.engine.store.rows import PaymentRecord

#: The outcome of a notification kept in the inbox and never applied (its reasons are in ``parsed``).
FLAGGED = "flagged"

#: The states of a payment whose money the merchant holds (or held, until our own refunds).
_PAID_STATES = frozenset({PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED})


def payment_refusals(n: Notification, trade: TradeResult, payment: PaymentRecord | None) -> list[str]:
    """The reasons a payment notification must not be applied to ``payment`` (None: not in the ledger)."""
    reasons = list(n.problems)
    if payment is None:
        return reasons
    reasons += _channel_refusal(n.channel, payment)
    if trade.amount_fen is not None and trade.amount_fen != payment.amount_fen:
        reasons.append(
            f"amount {format_fen(trade.amount_fen)} differs from the order's {format_fen(payment.amount_fen)}"
        )
    target = trade.state
    if PaymentState(payment.state) in _PAID_STATES and target not in _PAID_STATES:
        reasons.append(f"would move a {payment.state} order to {target.value}")
    return reasons


def refund_refusals(n: Notification, payment: PaymentRecord | None) -> list[str]:
    """The reasons a refund notification must not be applied to the refund of ``payment``."""
    reasons = list(n.problems)
    if payment is not None:
        reasons += _channel_refusal(n.channel, payment)
    return reasons


def _channel_refusal(channel: Channel, payment: PaymentRecord) -> list[str]:
    if channel.value == payment.channel:
        return []
    if payment.channel is None:  # a one-QR page no wallet opened: no gateway has this order
        return [f"sent by {channel.label} about an order no wallet has opened"]
    return [f"sent by {channel.label} about an order on {Channel(payment.channel).label}"]
