"""engine_leases: the job only one engine process runs (the scheduler: resolver, daily reconciliation)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engine_leases",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("owner", sa.String(length=64), nullable=False),
        # Naive UTC on both dialects (pos_app.engine.store.types.UtcDateTime converts at the edge).
        sa.Column("lease_until", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("engine_leases")
