"""Readiness for a load balancer (``GET /readyz``): the ledger answers and its schema is current.

``/healthz`` says the process is alive; ``/readyz`` says it can serve: its database is reachable
and migrated to the schema this code was written for. The gateways' channel states (circuit
breakers) are reported beside, but do not make the engine unready: a gateway outage hits every
engine process alike, and taking them all out of rotation would also stop cash-sale sync, the
other channel and the settling of payments already taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from pos_app.domain.routing import Channel
from pos_app.engine.store.db import alembic_config, head_from_files
from pos_app.migration_files import stored_revision_on

#: Per channel ("wechat", "alipay"): "closed" (working), "open" (failing fast) or "half_open".
ChannelStates = Callable[[], Mapping[str, str]]


def all_closed(channels: Iterable[Channel]) -> ChannelStates:
    """Channel states for an engine without circuit breakers: every configured channel "closed"."""
    states = {channel.value: "closed" for channel in channels}
    return lambda: states


@dataclass(frozen=True, slots=True)
class Readiness:
    database: str  # "ok", or what failed
    schema: str  # "current", or which revision the ledger is at
    channels: Mapping[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.schema == "current"

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not_ready",
            "database": self.database,
            "schema": self.schema,
            "channels": dict(self.channels),
        }


class ReadinessProbe:
    """Checks one ledger; the migrations' head revision is read once, at construction (from the
    migration files, without alembic: see pos_app.migration_files)."""

    def __init__(self, ledger: Engine, channel_states: ChannelStates) -> None:
        self._ledger = ledger
        self._channel_states = channel_states
        self._head = head_from_files() or _alembic_head()

    def check(self) -> Readiness:
        """Blocking (a database round trip): run it in a worker thread."""
        channels = self._channel_states()
        try:
            with self._ledger.connect() as connection:
                connection.execute(text("SELECT 1"))
                current = stored_revision_on(connection)
        except Exception as exc:  # any driver error means the same thing to a load balancer
            return Readiness(database=f"unreachable ({exc.__class__.__name__})", schema="unknown", channels=channels)
        schema = "current" if current == self._head else f"at {current or 'none'}, code expects {self._head}"
        return Readiness(database="ok", schema=schema, channels=channels)


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
