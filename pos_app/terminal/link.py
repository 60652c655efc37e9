"""The till's link to the engine as the status bar shows it: reachable or not, events unsent."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from pos_app import journal
from pos_app.terminal.core import TillCore


class Link(TillCore):
    def unsent_count(self) -> int:
        """Journal events of this terminal the engine has not acknowledged yet."""
        with journal.session_scope(self.journal) as session:
            return journal.unsent_count(session, terminal_id=self.terminal_id)

    def sent_count(self) -> int:
        """Journal events of this terminal the engine has acknowledged."""
        with journal.session_scope(self.journal) as session:
            statement = (
                select(func.count())
                .select_from(journal.OutboxEntry)
                .where(col(journal.OutboxEntry.terminal_id) == self.terminal_id)
                .where(col(journal.OutboxEntry.sent_at).is_not(None))
            )
            return int(session.exec(statement).one())

    async def engine_reachable(self) -> bool:
        return await self.client.healthz()
