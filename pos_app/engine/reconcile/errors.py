"""Reconciliation errors. Messages are for the store manager: what happened and what to do next."""

from __future__ import annotations

from pos_app.domain.errors import PosError


class ReconcileError(PosError):
    """Base of every reconciliation failure."""


class BillFormatError(ReconcileError):
    """A bill file that does not follow its format. Nothing of it is imported."""

    def __init__(self, source: str, line_no: int, reason: str) -> None:
        self.source = source
        self.line_no = line_no
        self.reason = reason
        super().__init__(
            f"{source}, line {line_no}: {reason.rstrip('.')} — the whole bill was rejected; download it again "
            "or ask the provider's support."
        )


class BillNotReady(ReconcileError):
    """The provider has not produced the day's bill yet (normally ready after 10:00 the next day)."""

    default_message = "The provider's bill for that day is not ready yet — try again after 10:00."


class BillDownloadError(ReconcileError):
    """The bill could not be downloaded after retries."""


class UploadError(ReconcileError):
    """The reconciliation could not be delivered to the upload destination."""
