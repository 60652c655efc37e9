"""terminal_seen: when a till last made a signed request, the version it named, its newest journal seq

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a till that has not called since the upgrade shows "—" on the console.
    op.add_column("terminals", sa.Column("last_seen_at", sa.DateTime(), nullable=True))
    op.add_column("terminals", sa.Column("version", sa.String(length=32), nullable=True))
    op.add_column("terminals", sa.Column("journal_head_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("journal_head_seq")
        batch.drop_column("version")
        batch.drop_column("last_seen_at")
