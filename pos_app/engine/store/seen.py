"""When each terminal last made a signed request and which software version it named (issue 17).

The edge notes every authenticated request here in memory; the ledger row is written at most every
``SEEN_FLUSH_S`` per terminal (and at shutdown), so a payment request never pays an extra write
beyond that. Another engine process keeps its own notes; the newest write wins, which is what
"last seen" means anyway.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, String, column, table, update
from sqlmodel import Session

from pos_app.engine.store.types import UtcDateTime
from pos_app.engine.store.utc_columns import stored

SEEN_FLUSH_S = 30.0
#: ``pos_app-terminal/0.1.0`` — the version is what the till's User-Agent names after the slash.
# The columns written, by name: ``terminals.Terminal`` holds this object, so this module does not import it.
_TERMINALS = table(
    "terminals", column("terminal_id", String), column("last_seen_at", UtcDateTime()), column("version", String)
)
_AGENT = re.compile(r"pos_app-terminal/([0-9A-Za-z.+\-]{1,32})")


def version_of(user_agent: str | None) -> str | None:
    """The till software version a User-Agent names; None for anything else (never stored raw)."""
    match = _AGENT.fullmatch(user_agent or "")
    return match.group(1) if match else None


@dataclass(slots=True)
class _Note:
    seen_at: datetime
    version: str | None
    written_at: datetime | None = None  # when this terminal's row was last written; None: never
    dirty: bool = True


class SeenTerminals:
    """In-memory last-seen notes per terminal, flushed to the ledger's ``terminals`` row."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], *, every_s: float = SEEN_FLUSH_S) -> None:
        self._engine = engine
        self._clock = clock
        self._every = timedelta(seconds=every_s)
        self._notes: dict[str, _Note] = {}
        self._lock = threading.Lock()

    def note(self, terminal_id: str, version: str | None) -> bool:
        """Remember this request; True when the terminal's row is due to be written (:meth:`flush`)."""
        now = self._clock()
        with self._lock:
            note = self._notes.get(terminal_id)
            if note is None:
                note = self._notes[terminal_id] = _Note(now, version)
            else:
                note.seen_at, note.dirty = now, True
                note.version = version or note.version
            return note.written_at is None or now - note.written_at >= self._every

    def flush(self, terminal_id: str | None = None) -> int:
        """Write the notes not yet written (one terminal's, or all); returns how many rows were written."""
        with self._lock:
            due = [
                (tid, note.seen_at, note.version)
                for tid, note in self._notes.items()
                if note.dirty and (terminal_id is None or tid == terminal_id)
            ]
            written_at = self._clock()
            for tid, _, _ in due:
                self._notes[tid].dirty = False
                self._notes[tid].written_at = written_at
        if not due:
            return 0
        with Session(self._engine) as session:
            for tid, seen_at, version in due:
                values: dict[str, object] = {"last_seen_at": stored(seen_at)}
                if version is not None:
                    values["version"] = version
                session.execute(update(_TERMINALS).where(_TERMINALS.c.terminal_id == tid).values(**values))
            session.commit()
        return len(due)
