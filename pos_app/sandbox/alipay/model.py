"""What the simulated Alipay gateway remembers: trades and refunds (spec alipay-f2f.md §3).

Plain dataclasses with no I/O; :mod:`.store` persists them, :mod:`.rules` changes them.
Money is int fen; the yuan strings exist only in requests, replies, notifications and bills.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pos_app.domain.china_time import in_china

#: Alipay writes every time as ``yyyy-MM-dd HH:mm:ss`` in GMT+8.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

MIN_AMOUNT_FEN = 1
MAX_AMOUNT_FEN = 100_000_000 * 100
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_]{1,64}")
OUT_REQUEST_NO = re.compile(r"[0-9A-Za-z_\-]{1,64}")
_YUAN = re.compile(r"(0|[1-9]\d{0,11})(\.\d{1,2})?")

#: Trades can be cancelled (撤销) for 24 h after they were ordered (spec §3.4).
CANCEL_WINDOW = timedelta(hours=24)
#: How long a precreated QR code stays payable when the request names no timeout (default unconfirmed).
DEFAULT_QR_TIMEOUT = timedelta(hours=2)
#: How long a bar-code trade waits for the buyer's password when the request names no timeout.
DEFAULT_PAY_TIMEOUT = timedelta(minutes=15)
DEFAULT_BUYER_LOGON_ID = "csq***@sandbox.com"
FUND_CHANNEL = "ALIPAYACCOUNT"


class Status(StrEnum):
    #: A precreated QR that nobody scanned yet: the Alipay trade does not exist (query: TRADE_NOT_EXIST).
    PRECREATED = "PRECREATED"
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    TRADE_SUCCESS = "TRADE_SUCCESS"
    TRADE_CLOSED = "TRADE_CLOSED"
    TRADE_FINISHED = "TRADE_FINISHED"


class Kind(StrEnum):
    PRECREATE = "precreate"
    PAY = "pay"
    #: alipay.trade.create (the buyer's own browser, jsapi spec §3): exists at once, bound to the buyer.
    CREATE = "create"
    #: A cancel for an out_trade_no the gateway never saw: nothing to show, but the number is burnt.
    CANCELLED_UNSEEN = "cancelled_unseen"


class Pending(StrEnum):
    """What the buyer will do with a bar-code payment that waits for a password (10003)."""

    CONFIRM = "confirm"
    CANCEL = "cancel"


@dataclass(slots=True)
class Trade:
    out_trade_no: str
    kind: Kind
    status: Status
    total_fen: int
    subject: str
    ordered_at: datetime  # when the merchant's request arrived (24 h cancel window)
    expires_at: datetime | None  # unpaid trades close at this time
    app_id: str = ""
    trade_no: str | None = None  # exists once the trade exists at Alipay (scan, or bar-code pay)
    created_at: datetime | None = None  # gmt_create of the Alipay trade
    body: str = ""
    store_id: str = ""
    store_name: str = ""
    terminal_id: str = ""
    operator_id: str = ""
    notify_url: str = ""
    qr_code: str = ""
    buyer_user_id: str = ""
    buyer_logon_id: str = ""
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    refunded_fen: int = 0
    cancel_action: str = ""  # "close" | "refund" once cancelled
    pending: Pending | None = None  # bar-code pay waiting for the buyer's password
    pending_until: datetime | None = None
    auth_code_tail: str = ""  # last 4 digits only: codes are bearer tokens
    buyer_open_id: str = ""  # the buyer's per-app open_id (openid-mode apps; jsapi spec §2)

    @property
    def paid(self) -> bool:
        return self.paid_at is not None

    @property
    def visible(self) -> bool:
        """Whether query/close/refund can see it (a precreate exists only after the scan)."""
        return self.trade_no is not None


@dataclass(slots=True)
class Refund:
    out_trade_no: str
    out_request_no: str
    amount_fen: int
    refunded_at: datetime
    refund_fee_after: int  # cumulative refunded amount of the trade after this refund
    reason: str = ""
    by_cancel: bool = False  # the refund made by cancelling a paid trade
    store_id: str = ""
    operator_id: str = ""
    terminal_id: str = ""


@dataclass(slots=True)
class Notice:
    """A trade_status_sync notification the gateway owes a merchant."""

    trade_status: Status
    refund: Refund | None = None


@dataclass(slots=True)
class Reply:
    """One ``…_response`` object: code/msg(/sub_code/sub_msg) first, then the method's fields."""

    code: str
    msg: str
    sub_code: str = ""
    sub_msg: str = ""
    fields: dict[str, object] = field(default_factory=dict)

    def as_object(self) -> dict[str, object]:
        obj: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.sub_code:
            obj["sub_code"] = self.sub_code
            obj["sub_msg"] = self.sub_msg
        obj.update(self.fields)
        return obj


def fmt_time(at: datetime) -> str:
    return in_china(at).strftime(TIME_FORMAT)


def parse_yuan(text: str) -> int | None:
    """``"88.88"`` → 8888; None for anything that is not a plain yuan amount with ≤ 2 decimals."""
    if not _YUAN.fullmatch(text):
        return None
    whole, _, part = text.partition(".")
    return int(whole) * 100 + int(part.ljust(2, "0") or "0")


def parse_timeout(text: str) -> timedelta | None:
    """``timeout_express``: ``1m``–``15d`` in whole m/h/d units (``1c`` handled by the caller)."""
    match = re.fullmatch(r"([1-9]\d*)([mhd])", text)
    if match is None:
        return None
    n, unit = int(match.group(1)), match.group(2)
    span = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]
    return span if timedelta(minutes=1) <= span <= timedelta(days=15) else None


def new_trade_no(at: datetime) -> str:
    """28 digits like Alipay's: date, a fixed channel part, then random digits."""
    return in_china(at).strftime("%Y%m%d") + "22001" + "".join(secrets.choice(string.digits) for _ in range(15))


def new_qr_code() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "https://qr.alipay.com/bax" + "".join(secrets.choice(alphabet) for _ in range(22))


def new_buyer_user_id() -> str:
    return "2088" + "".join(secrets.choice(string.digits) for _ in range(12))


def new_notify_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(34))
