"""A terminal's events by kind: the open money-surprise alerts (``alert.raised`` not yet answered by
``alert.acknowledged``) are read from this index at every X and Z report and whenever the till moves,
instead of scanning the whole event log (about 250 ms at a million events).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 14:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_kind", "events", ["terminal_id", "kind", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_kind", table_name="events")
