"""The day's sales in time order: the first and last receipt of a day are read from the two ends of
this index instead of sorting the day. Refunds still in flight are found by their state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 20:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SALES_TIME_COLUMNS = ["business_day", "created_at", "state", "channel", "transaction_id", "terminal_id", "out_trade_no"]


def upgrade() -> None:
    op.create_index("ix_sales_day_time", "sales", SALES_TIME_COLUMNS, unique=False)
    op.create_index("ix_refunds_state", "refunds", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refunds_state", table_name="refunds")
    op.drop_index("ix_sales_day_time", table_name="sales")
