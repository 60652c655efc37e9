"""Small formatting helpers shared by screens: countdowns, masked codes, state words."""

from __future__ import annotations

from datetime import datetime, timedelta

from pos_app.domain.states import PaymentState

STATE_WORDS: dict[PaymentState, str] = {
    PaymentState.CREATED: "Starting…",
    PaymentState.AWAITING_SCAN: "Waiting for the customer to scan",
    PaymentState.SUBMITTED: "Sent — waiting for the wallet",
    PaymentState.USER_PAYING: "Waiting for the customer to confirm on the phone",
    PaymentState.UNKNOWN: "Checking the result with the gateway — do not charge again",
    PaymentState.PAID: "PAID",
    PaymentState.FAILED: "FAILED",
    PaymentState.CLOSED: "CANCELED",
    PaymentState.REVERSED: "CANCELED",
    PaymentState.PARTIALLY_REFUNDED: "PAID (part refunded)",
    PaymentState.REFUNDED: "REFUNDED",
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
