"""Merchant order numbers: unique forever, sortable by time, readable by a person.

Layout (31 chars, all ``[0-9A-Z]``, inside both gateways' rules: WeChat 6–32, Alipay ≤ 64)::

    P 261122 184907 S00001 T001 00000042
    | |      |      |      |    per-terminal sequence (8 digits, from the journal, never reused)
    | |      |      |      terminal code (4)
    | |      |      store code (6)
    | |      local time HHMMSS
    | local date YYMMDD
    kind: P payment, R refund

Uniqueness does not depend on the clock: (store, terminal, sequence) is unique on its own because
the sequence is a durable per-terminal counter. The date and time only make numbers sort by time
and let a person read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pos_app.domain.errors import IdError

STORE_CODE_LEN = 6
TERMINAL_CODE_LEN = 4
SEQ_LEN = 8
MAX_SEQ = 10**SEQ_LEN - 1

_CODE = re.compile(r"[0-9A-Z]+")
_TRADE_NO = re.compile(
    r"(?P<kind>[PR])(?P<date>\d{6})(?P<time>\d{6})(?P<store>[0-9A-Z]{6})(?P<terminal>[0-9A-Z]{4})(?P<seq>\d{8})",
    re.ASCII,
)
#: What both gateways accept for our own numbers (WeChat allows more, we never generate it).
GATEWAY_SAFE = re.compile(r"[0-9A-Za-z]{6,32}")


class IdKind(StrEnum):
    PAYMENT = "P"
    REFUND = "R"


@dataclass(frozen=True, slots=True)
class TradeNo:
    """The parts of one of our order numbers."""

    kind: IdKind
    at: datetime
    store_code: str
    terminal_code: str
    seq: int

    def __str__(self) -> str:
        return f"{self.kind.value}{self.at:%y%m%d%H%M%S}{self.store_code}{self.terminal_code}{self.seq:0{SEQ_LEN}d}"


def normalise_code(raw: str, width: int, what: str) -> str:
    """Upper-case and left-pad a store/terminal code with zeros to its fixed width."""
    code = raw.strip().upper()
    if not code or len(code) > width or not _CODE.fullmatch(code):
        raise IdError(
            "The {what} code must be 1–{width} letters or digits, not {raw!r}.", what=what, width=width, raw=raw
        )
    return code.rjust(width, "0")


def make_trade_no(kind: IdKind, *, store: str, terminal: str, seq: int, at: datetime) -> str:
    """Build an out_trade_no (kind P) or out_refund_no (kind R). ``at`` is the local wall time."""
    if not 0 < seq <= MAX_SEQ:
        raise IdError("Sequence {seq} is outside 1..{most}.", seq=seq, most=MAX_SEQ)
    if not 2000 <= at.year <= 2099:
        raise IdError("The clock says {year}: order numbers carry a year from 2000 to 2099.", year=at.year)
    trade_no = TradeNo(
        kind,
        at.replace(microsecond=0),
        normalise_code(store, STORE_CODE_LEN, "store"),
        normalise_code(terminal, TERMINAL_CODE_LEN, "terminal"),
        seq,
    )
    return str(trade_no)


def make_out_trade_no(*, store: str, terminal: str, seq: int, at: datetime) -> str:
    return make_trade_no(IdKind.PAYMENT, store=store, terminal=terminal, seq=seq, at=at)


def make_out_refund_no(*, store: str, terminal: str, seq: int, at: datetime) -> str:
    return make_trade_no(IdKind.REFUND, store=store, terminal=terminal, seq=seq, at=at)


def parse_trade_no(text: str) -> TradeNo:
    """Split one of our numbers back into its parts; IdError if it is not one of ours."""
    match = _TRADE_NO.fullmatch(text)
    if match is None:
        raise IdError("{text!r} is not an order number made by this system.", text=text)
    try:
        # Years are 2000–2099: strptime's %y would read 69–99 as 1969–1999.
        at = datetime.strptime("20" + match.group("date") + match.group("time"), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise IdError("{text!r} carries an impossible date or time.", text=text) from exc
    return TradeNo(
        IdKind(match.group("kind")), at, match.group("store"), match.group("terminal"), int(match.group("seq"))
    )


def check_issued_by(number: str, *, kind: IdKind, store: str, terminal: str) -> TradeNo:
    """Refuse a number that this terminal of this store did not make (its store and terminal codes
    are in it). Decided from the number alone, before any lookup: a refusal says nothing about
    whether another terminal holds that number."""
    trade_no = parse_trade_no(number)
    own_store = normalise_code(store, STORE_CODE_LEN, "store")
    own_terminal = normalise_code(terminal, TERMINAL_CODE_LEN, "terminal")
    if (trade_no.kind, trade_no.store_code, trade_no.terminal_code) != (kind, own_store, own_terminal):
        raise IdError(
            "Order number {number} was not made by this terminal (it must start {kind}, carry store {store} "
            "and terminal {terminal}) — start a new sale.",
            number=number,
            kind=kind.value,
            store=own_store,
            terminal=own_terminal,
        )
    return trade_no


def check_gateway_safe(out_trade_no: str) -> str:
    """Refuse an order number neither gateway would accept (6–32 of ``[0-9A-Za-z]``)."""
    if not GATEWAY_SAFE.fullmatch(out_trade_no):
        raise IdError("Order number {number!r} must be 6–32 letters or digits.", number=out_trade_no)
    return out_trade_no
