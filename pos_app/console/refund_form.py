"""What the console's refund form holds, read and checked before anything is sent to the engine."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import SecretStr
from starlette.datastructures import FormData

from pos_app.domain.errors import PosError
from pos_app.domain.money import parse_amount
from pos_app.i18n import N_

#: Refund states still waiting for the gateway's answer: the payment's page refreshes while one is open.
OPEN_STATES = frozenset({"PENDING", "PROCESSING", "UNKNOWN"})
_REFUND_NO = re.compile(r"[0-9A-Za-z]{6,32}")


def new_refund_no(now: datetime | None = None) -> str:
    """A refund number made when the form is shown: sending the same form twice is one refund."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"C{moment:%Y%m%d%H%M%S}{secrets.token_hex(4)}"


@dataclass
class RefundForm:
    """The form's fields as typed (never the PIN), and the first problem found (a msgid and its values)."""

    refund_no: str
    amount: str = ""
    reason: str = ""
    approver: str = ""
    error: str | None = None
    error_params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundAsk:
    out_refund_no: str
    amount_fen: int
    reason: str
    approver: str
    pin: SecretStr


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def read_refund_form(form: FormData) -> tuple[RefundForm, RefundAsk | None]:
    """The form as typed and, if every field holds up, what to ask the engine."""
    refund_no = _text(form, "refund_no")
    shown = RefundForm(
        refund_no=refund_no if _REFUND_NO.fullmatch(refund_no) else new_refund_no(),
        amount=_text(form, "amount")[:20],
        reason=_text(form, "reason")[:80],
        approver=_text(form, "approver")[:64],
    )
    pin = form.get("pin")
    if not _REFUND_NO.fullmatch(refund_no):
        shown.error = N_("This form has expired — reload the page and try again.")
        return shown, None
    try:
        amount_fen = parse_amount(shown.amount)
    except PosError as exc:
        shown.error, shown.error_params = exc.template, dict(exc.params)
        return shown, None
    if not shown.approver or not isinstance(pin, str) or not pin.strip():
        shown.error = N_("A refund needs the approving manager's name and PIN.")
        return shown, None
    if len(pin.strip()) > 12:
        shown.error = N_("That PIN is too long.")
        return shown, None
    return shown, RefundAsk(refund_no, amount_fen, shown.reason, shown.approver, SecretStr(pin.strip()))
