"""Money is an int of fen everywhere inside. Parsing and formatting live here and only here.

Cashier input is parsed by hand rather than through Decimal/float so that every refusal has its
own reason ("more than 2 decimals", "exponent forms are not amounts", ...) and no binary floating
point can ever touch an amount.
"""

from __future__ import annotations

import re
import unicodedata

from pos_app.domain.errors import AmountError

#: Default per-sale ceiling: ¥100,000.00 (the configuration may lower or raise it).
DEFAULT_MAX_SALE_FEN = 10_000_000

_CURRENCY_SIGNS = ("¥", "￥", "RMB", "CNY")
# re.ASCII: \d must not match other scripts' digits (NFKC folds full-width ones, not e.g. "٣").
_AMOUNT = re.compile(r"(?P<yuan>\d+)(?:\.(?P<fen>\d*))?", re.ASCII)


def parse_amount(text: str, *, max_fen: int = DEFAULT_MAX_SALE_FEN) -> int:
    """Parse what a cashier typed (``"12"``, ``"12.3"``, ``"¥12.30"``, full-width digits) into fen.

    Raises AmountError with a reason for anything else: empty, zero, negative, more than two
    decimals, exponent or NaN forms, grouping separators, or more than ``max_fen``.
    """
    # NFKC folds full-width digits, '．' and '－' into their ASCII forms.
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned:
        raise AmountError("Enter an amount.")
    if cleaned.startswith(("-", "−")) or cleaned.endswith("-"):
        raise AmountError("An amount cannot be negative.")
    if cleaned.startswith("+"):
        cleaned = cleaned[1:].strip()
    for sign in _CURRENCY_SIGNS:
        if cleaned.upper().startswith(sign):
            cleaned = cleaned[len(sign) :].strip()
            break
    if cleaned.startswith(("-", "−")):
        raise AmountError("An amount cannot be negative.")
    lowered = cleaned.lower()
    if lowered in {"nan", "inf", "infinity"}:
        raise AmountError("{text!r} is not an amount.", text=text.strip())
    if "e" in lowered:
        raise AmountError("Exponent forms are not amounts — type the digits, e.g. 12.30.")
    if "," in cleaned or " " in cleaned or "_" in cleaned:
        raise AmountError("Type the amount without separators, e.g. 1234.50.")
    match = _AMOUNT.fullmatch(cleaned)
    if match is None or not match.group("yuan").isascii():
        if cleaned.startswith("."):
            raise AmountError("Type a digit before the decimal point, e.g. 0.50.")
        raise AmountError("{text!r} is not an amount — use digits and one decimal point.", text=text.strip())
    fen_digits = match.group("fen") or ""
    if len(fen_digits) > 2:
        raise AmountError("At most 2 decimals (fen) — e.g. 12.30.")
    fen = int(match.group("yuan")) * 100 + int(fen_digits.ljust(2, "0") or "0")
    if fen == 0:
        raise AmountError("The amount must be more than zero.")
    if fen > max_fen:
        raise AmountError(
            "{amount} is over the per-sale limit of {limit}.", amount=format_fen(fen), limit=format_fen(max_fen)
        )
    return fen


def format_fen(fen: int) -> str:
    """``1230`` → ``"¥12.30"``; negative amounts (refunds) get a leading minus: ``"-¥1.00"``."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("money is an int of fen")
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{part:02d}"


def fen_to_yuan(fen: int) -> str:
    """Alipay's amount form: ``1230`` → ``"12.30"`` (no sign, no grouping, always 2 decimals)."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("money is an int of fen")
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


_YUAN = re.compile(r"(?P<sign>-?)(?P<yuan>\d+)(?:\.(?P<fen>\d{1,2}))?", re.ASCII)


def yuan_to_fen(yuan: str) -> int:
    """Exact inverse of :func:`fen_to_yuan` for gateway strings: ``"12.30"`` → ``1230``.

    Accepts ``"12"``, ``"12.3"`` and a leading minus (bill refund rows); refuses anything else.
    """
    match = _YUAN.fullmatch(yuan.strip())
    if match is None:
        raise AmountError("{yuan!r} is not a yuan amount.", yuan=yuan)
    fen = int(match.group("yuan")) * 100 + int((match.group("fen") or "0").ljust(2, "0"))
    return -fen if match.group("sign") else fen
