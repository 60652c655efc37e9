"""Voids and PIN protection: refunds get a kind ("refund" | "void"), wrong PINs get the pin_guards table.

Existing refunds are all plain refunds: the column's server default fills them in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=8), nullable=False, server_default="refund"))
    op.create_table(
        "pin_guards",
        sa.Column("who", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("who"),
    )


def downgrade() -> None:
    op.drop_table("pin_guards")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("kind")
