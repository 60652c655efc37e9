"""Who may do what at the till. Roles decide; a manager PIN authorises a cashier's sensitive step."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CASHIER = "cashier"
    MANAGER = "manager"


class Action(StrEnum):
    SELL = "sell"
    REFUND = "refund"
    VOID = "void"
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    OPEN_SHIFT = "open_shift"
    CLOSE_SHIFT = "close_shift"  # the blind count; the sign-off of the difference is a manager's
    SIGN_OFF = "sign_off"
    X_REPORT = "x_report"
    Z_REPORT = "z_report"  # day close
    DASHBOARD = "dashboard"
    UNLOCK_STAFF = "unlock_staff"  # clear a lockout after wrong PINs


_CASHIER = frozenset({Action.SELL, Action.CASH_IN, Action.OPEN_SHIFT, Action.CLOSE_SHIFT, Action.X_REPORT})

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.CASHIER: _CASHIER,
    Role.MANAGER: frozenset(Action),
}


#: The staff a sandbox demo profile starts with (name, PIN, role); shown on the training login screen.
DEMO_STAFF: tuple[tuple[str, str, Role], ...] = (
    ("Demo Cashier", "1234", Role.CASHIER),
    ("Demo Manager", "9999", Role.MANAGER),
)

#: The sandbox demo's sign-in to the managers' web console (an owner: every store). Made by
#: `pos console serve` on a sandbox profile that has no console account yet, shown on the till's F2.
DEMO_CONSOLE_USER = "demo"
DEMO_CONSOLE_PASSWORD = "demo-console"


def may(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]
