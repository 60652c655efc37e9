"""One place that turns any failure into words a cashier can act on (never a traceback)."""

from __future__ import annotations

from dataclasses import dataclass

from pos_app.domain.errors import (
    AuthorisationError,
    EngineUnavailable,
    InputError,
    OutcomeUnknown,
    PaymentDeclined,
    PosError,
)

FALLBACK = "Something went wrong — the sale is kept in the journal. Try again, or ask a manager."


@dataclass(frozen=True, slots=True)
class CashierMessage:
    title: str
    text: str
    severity: str  # "information" | "warning" | "error" (Textual notify severities)


def _is_connection_error(exc: BaseException) -> bool:
    # httpx is imported lazily: this module stays importable (and testable) on its own.
    try:
        import httpx
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError)


def describe(exc: BaseException) -> CashierMessage:
    if isinstance(exc, EngineUnavailable) or _is_connection_error(exc):
        message = exc.message if isinstance(exc, PosError) else EngineUnavailable.default_message
        return CashierMessage("Engine offline", message, "error")
    if isinstance(exc, AuthorisationError):
        return CashierMessage("Not allowed", exc.message, "warning")
    if isinstance(exc, PaymentDeclined):
        return CashierMessage("Payment refused", exc.message, "error")
    if isinstance(exc, OutcomeUnknown):
        return CashierMessage("Result not known yet", exc.message, "warning")
    if isinstance(exc, InputError):
        return CashierMessage("Check the input", exc.message, "warning")
    if isinstance(exc, PosError):
        return CashierMessage("Problem", exc.message, "error")
    return CashierMessage("Problem", FALLBACK, "error")
