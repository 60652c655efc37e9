"""Refunds made elsewhere: a refund of a till's sale started outside the till (the manager console,
through the engine) is journaled when the till hears of it; ``origin`` says where it was made.

Existing refunds were all made at the till: the column's server default fills them in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:40:00
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
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), nullable=False, server_default="till"))


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("origin")
