"""Opening and closing the cashier's shift with the drawer counted by denomination; a blind close
signed off by a manager."""

from __future__ import annotations

from collections.abc import Mapping

from pos_app import journal
from pos_app.domain.shift_close import ShiftCloseResult
from pos_app.journal.shifts import blind_close, open_shift_counted, sign_off, staff_named
from pos_app.terminal.core import TillCore


class Shifts(TillCore):
    def shift_open(self) -> bool:
        """A shift is open on this terminal (the next count closes it)."""
        with journal.session_scope(self.journal) as session:
            return journal.current_shift(session, self.terminal_id) is not None

    def open_shift(self, counts: Mapping[int, int]) -> int:
        """Open a shift with the counted float (pieces per denomination in fen); the float in fen."""
        with journal.session_scope(self.journal) as session:
            shift = open_shift_counted(
                session,
                terminal_id=self.terminal_id,
                by=staff_named(session, self._operator()),
                counts=counts,
                at=self.clock(),
            )
            float_fen = shift.opening_float_fen
        self._written()
        return float_fen

    def close_shift(self, counts: Mapping[int, int]) -> ShiftCloseResult:
        """Close the shift with the drawer counted blind; the expected figures come back only now."""
        with journal.session_scope(self.journal) as session:
            result = blind_close(
                session,
                terminal_id=self.terminal_id,
                by=staff_named(session, self._operator()),
                counts=counts,
                at=self.clock(),
            )
        self._written()
        return result

    def sign_off_close(self, shift_id: int, manager: str) -> None:
        """A manager signs off a closed shift's count (and its difference)."""
        with journal.session_scope(self.journal) as session:
            sign_off(session, shift_id=shift_id, manager=staff_named(session, manager), at=self.clock())
        self._written()
