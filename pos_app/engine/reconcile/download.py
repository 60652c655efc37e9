"""Fetching a day's bill from a provider, with retries, and archiving the raw file.

Archive layout (under the engine home): ``bills/YYYY-MM-DD/wechatpay-tradebill-ALL.csv.gz`` (the
uncompressed bill the provider's SHA1 was checked against, gzip-compressed on disk) and
``bills/YYYY-MM-DD/alipay-trade.csv.zip`` (the ZIP as Alipay served it). A bill already archived
is parsed from the archive, never downloaded twice.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pos_app.domain.routing import Channel
from pos_app.engine.providers.base import (
    DefiniteFailure,
    GatewayError,
    OrderNotFound,
    OutcomeUnknownError,
    PaymentProvider,
    ResponseVerificationError,
)
from pos_app.engine.reconcile.alipay_bill import parse_alipay_bill_zip
from pos_app.engine.reconcile.bill import Bill
from pos_app.engine.reconcile.errors import BillDownloadError, BillNotReady
from pos_app.engine.reconcile.wechat_bill import parse_wechat_bill_file

#: Gateway codes meaning "that day's bill does not exist yet".
NOT_READY_CODES = frozenset({"NO_STATEMENT_EXIST", "STATEMENT_CREATING", "isp.bill_not_exist", "BILL_NOT_EXIST"})

ARCHIVE_NAMES = {Channel.WECHAT: "wechatpay-tradebill-ALL.csv.gz", Channel.ALIPAY: "alipay-trade.csv.zip"}
LABELS = {Channel.WECHAT: "WeChat Pay", Channel.ALIPAY: "Alipay"}


@dataclass(frozen=True, slots=True)
class DownloadPolicy:
    """Retries of one download (SHA1 mismatch, timeouts, 5xx). ``instant()`` for tests."""

    attempts: int = 4
    initial_s: float = 2.0
    max_s: float = 30.0

    @classmethod
    def instant(cls, attempts: int = 4) -> DownloadPolicy:
        return cls(attempts=attempts, initial_s=0.0, max_s=0.0)


def archive_path(bills_dir: Path, day: date, channel: Channel) -> Path:
    return bills_dir / day.isoformat() / ARCHIVE_NAMES[channel]


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


async def fetch_bill(
    provider: PaymentProvider,
    channel: Channel,
    day: date,
    bills_dir: Path,
    *,
    policy: DownloadPolicy | None = None,
    refresh: bool = False,
) -> Path:
    """Download (unless archived and not ``refresh``) and archive the day's bill; return its path.

    Raises BillNotReady when the provider has no bill for the day yet, BillDownloadError when
    retries ran out.
    """
    path = archive_path(bills_dir, day, channel)
    if path.exists() and not refresh:
        return path
    policy = policy or DownloadPolicy()
    label = LABELS[channel]
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=wait_exponential(multiplier=policy.initial_s, max=policy.max_s),
        retry=retry_if_exception_type((OutcomeUnknownError, ResponseVerificationError)),
        reraise=True,
    )
    try:
        data = b""
        async for attempt in retrying:
            with attempt:
                data = await provider.download_bill(day)
    except (DefiniteFailure, OrderNotFound) as exc:
        if exc.code in NOT_READY_CODES or isinstance(exc, OrderNotFound):
            raise BillNotReady(f"The {label} bill for {day} is not ready yet — try again after 10:00.") from None
        raise BillDownloadError(f"{label} refused the bill download for {day}: {exc.reason}") from None
    except GatewayError as exc:
        raise BillDownloadError(
            f"The {label} bill for {day} could not be downloaded ({exc.reason}) — try again later."
        ) from None
    if channel is Channel.WECHAT:
        # The provider client checked the SHA1 of these uncompressed bytes; keep it beside the file.
        _write_atomic(path.with_name(path.name + ".sha1"), hashlib.sha1(data).hexdigest().encode() + b"\n")
        _write_atomic(path, gzip.compress(data, mtime=0))
    else:
        _write_atomic(path, data)
    return path


def parse_archived(path: Path, channel: Channel, day: date) -> Bill:
    """Parse an archived bill, streaming it from disk."""
    source = f"{LABELS[channel]} bill {day}"
    if channel is Channel.WECHAT:
        return parse_wechat_bill_file(path, source=source, bill_date=day)
    return parse_alipay_bill_zip(path, source=source, bill_date=day)
