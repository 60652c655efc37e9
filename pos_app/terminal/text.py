"""Small formatting helpers shared by screens: countdowns, masked codes, state words."""

from __future__ import annotations

from datetime import datetime, timedelta

from pos_app.domain.states import PaymentState
from pos_app.i18n import N_

#: A payment's state in words (English: translate with ``_()`` where shown).
STATE_WORDS: dict[PaymentState, str] = {
    PaymentState.CREATED: N_("Starting…"),
    PaymentState.AWAITING_SCAN: N_("Waiting for the customer to scan"),
    PaymentState.SUBMITTED: N_("Sent — waiting for the wallet"),
    PaymentState.USER_PAYING: N_("Waiting for the customer to confirm on the phone"),
    PaymentState.UNKNOWN: N_("Checking the result with the gateway — do not charge again"),
    PaymentState.PAID: N_("PAID"),
    PaymentState.FAILED: N_("FAILED"),
    PaymentState.CLOSED: N_("CANCELED"),
    PaymentState.REVERSED: N_("CANCELED"),
    PaymentState.PARTIALLY_REFUNDED: N_("PAID (part refunded)"),
    PaymentState.REFUNDED: N_("REFUNDED"),
}


def countdown(remaining: timedelta | float) -> str:
    """``75.4`` s → ``"1:15"``; never negative."""
    seconds = remaining.total_seconds() if isinstance(remaining, timedelta) else remaining
    whole = max(0, int(seconds + 0.999)) if seconds > 0 else 0
    return f"{whole // 60}:{whole % 60:02d}"


def remaining_seconds(deadline: datetime | None, now: datetime) -> float | None:
    if deadline is None:
        return None
    if deadline.tzinfo is None and now.tzinfo is not None:
        now = now.replace(tzinfo=None)
    elif deadline.tzinfo is not None and now.tzinfo is None:
        now = now.astimezone(deadline.tzinfo)
    return (deadline - now).total_seconds()
