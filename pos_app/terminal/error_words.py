"""One place that turns any failure into words a cashier can act on, in the till's language.

The domain and the engine write their messages in English (the domain imports the standard library
only; the engine answers ``{code, message}`` over HTTP). The till translates them here, at the edge, by
looking the English text up in the message catalog: the lists below mark those texts for extraction
(``N_``), and a message missing from them is shown in English rather than not at all.
"""

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
from pos_app.i18n import N_, _

FALLBACK = N_("Something went wrong — the sale is kept in the journal. Try again, or ask a manager.")

#: What the domain raises (``pos_app.domain``), with the ``{fields}`` its errors fill in.
DOMAIN_MESSAGES = (
    N_("Something went wrong."),
    N_("A payment cannot go from {current} to {target}."),
    N_("The payment result is not known yet — it is being checked, do not charge again."),
    N_("Engine unreachable — cash only until it is back."),
    N_("Wrong PIN or not allowed — ask a manager."),
    N_("Enter an amount."),
    N_("An amount cannot be negative."),
    N_("{text!r} is not an amount."),
    N_("Exponent forms are not amounts — type the digits, e.g. 12.30."),
    N_("Type the amount without separators, e.g. 1234.50."),
    N_("Type a digit before the decimal point, e.g. 0.50."),
    N_("{text!r} is not an amount — use digits and one decimal point."),
    N_("At most 2 decimals (fen) — e.g. 12.30."),
    N_("The amount must be more than zero."),
    N_("{amount} is over the per-sale limit of {limit}."),
    N_("{yuan!r} is not a yuan amount."),
    N_("Nothing was scanned — scan the customer's payment code again."),
    N_("That is not a payment code — ask the customer to open the payment code (付款码) in WeChat or Alipay."),
    N_("UnionPay codes are not accepted here — ask for WeChat Pay or Alipay."),
    N_("Code ending {last4} is not a WeChat or Alipay payment code — ask the customer to show it again."),
    N_("{amount} is not a Renminbi note or coin."),
    N_("A count cannot be negative."),
    N_("Tendered {tendered} is less than {amount}."),
    N_("The {what} code must be 1–{width} letters or digits, not {raw!r}."),
    N_("Sequence {seq} is outside 1..{most}."),
    N_("The clock says {year}: order numbers carry a year from 2000 to 2099."),
    N_("{text!r} is not an order number made by this system."),
    N_("{text!r} carries an impossible date or time."),
    N_("Order number {number!r} must be 6–32 letters or digits."),
    N_(
        "Order number {number} was not made by this terminal (it must start {kind}, carry store {store} "
        "and terminal {terminal}) — start a new sale."
    ),
)

#: What the journal refuses at the till (``pos_app.journal``).
JOURNAL_MESSAGES = (
    N_("The amount does not match the sum of the lines."),
    N_("Every sale needs the cashier's name."),
    N_("The cash tendered is less than the amount due."),
    N_("Wallet payments are voided through the engine (cancel), not here."),
    N_("Only today's sales can be voided — use a refund instead."),
    N_("A staff name is 1–64 characters."),
    N_("That PIN is already in use — choose another."),
    N_("Count whole notes and coins."),
    N_("A shift is already open on this terminal — close it first."),
    N_("The opening float cannot be negative."),
    N_("No shift is open on this terminal — open one first."),
    N_("Say why the cash goes in."),
    N_("Cash goes out as a pay-out or a drop."),
    N_("Say why the cash goes out."),
    N_("The drawer does not hold that much cash."),
    N_("No shift is open on this terminal."),
    N_("The counted cash cannot be negative."),
    N_("Cash is counted by denomination."),
    N_("A wallet total is a whole number of fen, not negative."),
    N_("The refund amount must be more than zero."),
    N_("The refund is more than what is left to refund on this sale."),
    N_("Wallet refunds start PENDING and are settled by the engine."),
    N_("Say why the sale is voided."),
    N_("A void needs the approving manager's name."),
    N_("A cash sale is voided with void_cash_sale (the cash goes back at once)."),
)

#: What the engine answers to the till: its refusals and the gateways' reasons, as it words them.
ENGINE_MESSAGES = (
    N_("The ledger is too busy — try again."),
    N_("Cash sales are recorded by the terminal, not sent to the payment engine."),
    N_("Scan the customer's payment code first."),
    N_("A QR payment takes no payment code — choose scan-to-pay instead."),
    N_("Choose WeChat Pay or Alipay for a QR payment."),
    N_("This payment was already refunded — it cannot be voided; refund the rest instead."),
    N_("Only payments of today can be voided — use a refund instead."),
    N_("This payment has refunds — refund the rest instead of voiding it."),
    N_("The void did not get a definite answer yet — try the void again."),
    N_("This request is not signed — activate the terminal first."),
    N_("This terminal is not activated yet — enter an activation code first."),
    N_("Payment code expired — ask the customer to refresh it"),
    N_("Insufficient balance — ask the customer to switch card or pay another way"),
    N_("This card is not supported — ask the customer to switch card or pay another way"),
    N_("Payment code already used or wrong — ask the customer to refresh it"),
    N_("Not a valid WeChat payment code — ask the customer to show the code again"),
    N_("The payer does not match this order — start a new sale"),
    N_("This order was closed — start a new sale"),
    N_("This order was reversed — start a new sale"),
    N_("This order number was already used — start a new sale"),
    N_("WeChat Pay refused the payment (risk control) — ask the customer to pay another way"),
    N_("WeChat Pay refused the payment (limit reached) — ask the customer to pay another way"),
    N_("The payment failed — ask the customer to pay another way"),
    N_("This order is too old to reverse — refund it instead"),
    N_("The customer's account cannot receive the refund — refund another way"),
    N_("WeChat Pay refused the request"),
    N_("Payment code expired or invalid — ask the customer to refresh it"),
    N_("The customer's phone could not confirm — scan a fresh code or pay another way"),
    N_("Alipay refused the payment (risk control) — ask the customer to pay another way"),
    N_("This order number was used with other details — start a new sale"),
    N_("The amount is outside what Alipay accepts — check the amount"),
    N_("Too late to cancel this payment — refund it instead"),
    N_("Alipay does not allow cancelling this payment — refund it instead"),
    N_("The merchant's Alipay balance is too low for this — top it up and retry"),
    N_("This payment has already been refunded"),
    N_("This refund number was already used with another amount — contact support"),
    N_("The refund is more than what remains of the payment"),
    N_("This payment can no longer be refunded"),
    N_("The payment is not in a state that allows this"),
    N_("The Alipay bill for that day is not available yet — try again later"),
)

#: What reading a payment code from a picture or the camera refuses (``pos_app.scan``).
SCAN_MESSAGES = (
    N_("No code found in the picture — hold the phone steady and scan again."),
    N_("The picture holds more than one payment code — scan one phone at a time."),
    N_("No payment code seen by the camera — ask the customer to hold the phone closer."),
    N_("Camera scanning needs the camera extra: pip install 'pos-app[camera]'. Use the scanner instead."),
)


@dataclass(frozen=True, slots=True)
class CashierMessage:
    title: str
    text: str
    severity: str  # "information" | "warning" | "error" (Textual notify severities)
    #: Not an error the product raises on purpose: worth a traceback in the log.
    unexpected: bool = False


def cashier_text(exc: PosError) -> str:
    """The error's message in the till's language (its English text when the catalog has none)."""
    template = _(exc.template)
    return template.format(**exc.params) if exc.params else template


def _is_connection_error(exc: BaseException) -> bool:
    # httpx is imported lazily: this module stays importable (and testable) on its own.
    try:
        import httpx
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError)


def describe(exc: BaseException) -> CashierMessage:
    if isinstance(exc, EngineUnavailable) or _is_connection_error(exc):
        message = cashier_text(exc) if isinstance(exc, PosError) else _(EngineUnavailable.default_message)
        return CashierMessage(_("Engine offline"), message, "error")
    if isinstance(exc, AuthorisationError):
        return CashierMessage(_("Not allowed"), cashier_text(exc), "warning")
    if isinstance(exc, PaymentDeclined):
        return CashierMessage(_("Payment refused"), cashier_text(exc), "error")
    if isinstance(exc, OutcomeUnknown):
        return CashierMessage(_("Result not known yet"), cashier_text(exc), "warning")
    if isinstance(exc, InputError):
        return CashierMessage(_("Check the input"), cashier_text(exc), "warning")
    if isinstance(exc, PosError):
        return CashierMessage(_("Problem"), cashier_text(exc), "error")
    return CashierMessage(_("Problem"), _(FALLBACK), "error", unexpected=True)
