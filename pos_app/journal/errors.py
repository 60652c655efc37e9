"""The journal's own error: an operation the recorded data does not allow."""

from __future__ import annotations

from pos_app.domain.errors import PosError


class JournalError(PosError):
    """A journal operation the data does not allow (unknown sale, refund too large, no open shift...)."""
