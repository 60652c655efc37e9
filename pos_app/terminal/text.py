"""Small formatting helpers shared by screens: countdowns, state words and channel names."""

from __future__ import annotations

from datetime import datetime, timedelta

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.i18n import N_, _

#: What a payment's state means to the cashier, in English (``state_words`` translates it).
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

#: The short state names of lists and tables (history, the sale's summary).
STATE_NAMES: dict[PaymentState, str] = {
    PaymentState.CREATED: N_("CREATED"),
    PaymentState.AWAITING_SCAN: N_("AWAITING_SCAN"),
    PaymentState.SUBMITTED: N_("SUBMITTED"),
    PaymentState.USER_PAYING: N_("USER_PAYING"),
    PaymentState.UNKNOWN: N_("UNKNOWN"),
    PaymentState.PAID: N_("PAID"),
    PaymentState.FAILED: N_("FAILED"),
    PaymentState.CLOSED: N_("CLOSED"),
    PaymentState.REVERSED: N_("REVERSED"),
    PaymentState.PARTIALLY_REFUNDED: N_("PARTIALLY_REFUNDED"),
    PaymentState.REFUNDED: N_("REFUNDED"),
}

#: ``Channel.label`` marked for the catalog (the domain cannot translate its own words).
CHANNEL_NAMES: dict[Channel, str] = {
    Channel.WECHAT: N_("WeChat Pay"),
    Channel.ALIPAY: N_("Alipay"),
    Channel.CASH: N_("Cash"),
}


def state_words(state: PaymentState) -> str:
    """What ``state`` means to the cashier, in the till's language."""
    return _(STATE_WORDS[state])


def state_name(state: PaymentState | str) -> str:
    """A state's short name in the till's language (an unknown name is shown as it is)."""
    try:
        return _(STATE_NAMES[PaymentState(state)])
    except ValueError:
        return str(state)


def channel_name(channel: Channel | str) -> str:
    """``WeChat Pay`` / ``微信支付``: a channel as the cashier reads it."""
    return _(CHANNEL_NAMES[Channel(channel)])


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
