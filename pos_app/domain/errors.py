"""The error tree. Every message is written for the person at the till: what happened, what to do.

A message is English with ``{name}`` fields (``template``) and their values (``params``): the domain
imports the standard library only, so the till translates ``template`` from its catalog and fills in
the values there (pos_app.terminal.error_words).
"""

from __future__ import annotations


class PosError(Exception):
    """Base of every error this product raises on purpose.

    `message` is what a cashier or manager reads (in English); it never contains a secret or a
    traceback. ``template`` is that text before ``params`` were filled in (``str.format``).
    """

    default_message = "Something went wrong."

    def __init__(self, message: str | None = None, **params: object) -> None:
        self.template = message or self.default_message
        self.params = params
        self.message = self.template.format(**params) if params else self.template
        super().__init__(self.message)


class InputError(PosError):
    """The person typed or scanned something the product refuses; nothing was changed."""


class AmountError(InputError):
    """A cashier-typed amount that is not a valid sale amount."""


class AuthCodeError(InputError):
    """A scanned payment code that is not a WeChat or Alipay payment code."""


class IdError(InputError):
    """An out_trade_no / out_refund_no that breaks the gateway rules."""


class IllegalTransition(PosError):
    """A payment state change the state machine forbids (a bug or a stale message, never applied)."""

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__("A payment cannot go from {current} to {target}.", current=current, target=target)


class PaymentDeclined(PosError):
    """The gateway definitely refused the payment; no money moved. The message says what to do."""


class OutcomeUnknown(PosError):
    """The result of a gateway call is not known yet; it will be settled by query, then cancel."""

    default_message = "The payment result is not known yet — it is being checked, do not charge again."


class EngineUnavailable(PosError):
    """The terminal cannot reach the payment engine."""

    default_message = "Engine unreachable — cash only until it is back."


class ConfigError(PosError):
    """A configuration file or setting is missing or wrong."""


class AuthorisationError(PosError):
    """A PIN or role does not allow the action."""

    default_message = "Wrong PIN or not allowed — ask a manager."
