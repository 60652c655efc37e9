"""The engine's payment states as the matcher groups them, as the string values the ledger rows carry."""

from __future__ import annotations

from pos_app.domain.states import MONEY_IN_STATES, SETTLED_STATES, PaymentState

#: The provider collected the money (refunds, if any, are matched on their own rows).
MONEY_IN = frozenset(s.value for s in MONEY_IN_STATES) | {PaymentState.REFUNDED.value}
#: The payment's outcome is known (money moved or definitely did not); refunds may still follow.
SETTLED = frozenset(s.value for s in SETTLED_STATES)
#: Ended without the provider collecting anything.
NO_MONEY = frozenset({PaymentState.FAILED.value, PaymentState.CLOSED.value})
REVERSED = PaymentState.REVERSED.value
PAID_STATE = PaymentState.PAID.value
