"""How a till answers repeated wrong PINs: a growing wait between tries, then a lockout.

The first :data:`FREE_TRIES` wrong PINs cost nothing (a cashier mistypes). After that each wrong
PIN makes the next try wait twice as long as the one before (1, 2, 4, 8... seconds), capped at
:data:`MAX_WAIT_S` so a real cashier is never kept out for minutes. A named person who reaches
:data:`LOCKOUT_AFTER` wrong PINs is locked out until a manager clears it: at four digits and
:data:`MAX_WAIT_S` between tries, guessing would otherwise still succeed within days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

FREE_TRIES = 3
MAX_WAIT_S = 30
LOCKOUT_AFTER = 10


def wait_after(failures: int) -> int:
    """Seconds to wait after ``failures`` wrong PINs in a row before the next try is taken."""
    if failures <= FREE_TRIES:
        return 0
    return min(1 << (failures - FREE_TRIES - 1), MAX_WAIT_S)


def is_locked_out(failures: int) -> bool:
    """A named person is locked out after this many wrong PINs in a row (until a manager clears it)."""
    return failures >= LOCKOUT_AFTER


def seconds_to_wait(failures: int, last_failure: datetime | None, now: datetime) -> int:
    """Whole seconds still to wait before the next try (0: try now)."""
    if last_failure is None:
        return 0
    remaining = last_failure + timedelta(seconds=wait_after(failures)) - now
    if remaining <= timedelta(0):
        return 0
    # Rounded up: "wait 0 s" while a fraction of a second remains would be refused again.
    return int(-(-remaining.total_seconds() // 1))
