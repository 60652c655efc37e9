"""Reconciliation (DESIGN.md §3): bill download and parse, the three-way matcher, report, upload.

Entry points: :func:`reconcile_day` (one day, end to end), :func:`run_scheduler` (daily loop the
engine server can start), the parsers :func:`parse_wechat_bill` / :func:`parse_alipay_bill_zip`, and
:func:`match_channel` (bill ↔ ledger ↔ terminal journals over compact columns).
"""

from pos_app.engine.reconcile.alipay_bill import parse_alipay_bill_zip, parse_alipay_detail
from pos_app.engine.reconcile.bill import Bill
from pos_app.engine.reconcile.download import DownloadPolicy, archive_path, fetch_bill, parse_archived
from pos_app.engine.reconcile.errors import (
    BillDownloadError,
    BillFormatError,
    BillNotReady,
    ReconcileError,
    UploadError,
)
from pos_app.engine.reconcile.inputs import JournalSale, LedgerPayments, LedgerRefund
from pos_app.engine.reconcile.matcher import match_channel
from pos_app.engine.reconcile.report import ChannelSummary, ReconcileReport
from pos_app.engine.reconcile.results import ChannelMatch, Difference, OpenItem, Settlement
from pos_app.engine.reconcile.runner import load_report, read_state, reconcile_day, run_scheduler
from pos_app.engine.reconcile.upload import UploadPolicy, UploadResult, upload_report
from pos_app.engine.reconcile.wechat_bill import parse_wechat_bill, parse_wechat_bill_bytes, parse_wechat_bill_file

__all__ = [
    "Bill",
    "BillDownloadError",
    "BillFormatError",
    "BillNotReady",
    "ChannelMatch",
    "ChannelSummary",
    "Difference",
    "DownloadPolicy",
    "JournalSale",
    "LedgerPayments",
    "LedgerRefund",
    "OpenItem",
    "ReconcileError",
    "ReconcileReport",
    "Settlement",
    "UploadError",
    "UploadPolicy",
    "UploadResult",
    "archive_path",
    "fetch_bill",
    "load_report",
    "match_channel",
    "parse_alipay_bill_zip",
    "parse_alipay_detail",
    "parse_archived",
    "parse_wechat_bill",
    "parse_wechat_bill_bytes",
    "parse_wechat_bill_file",
    "read_state",
    "reconcile_day",
    "run_scheduler",
    "upload_report",
]
