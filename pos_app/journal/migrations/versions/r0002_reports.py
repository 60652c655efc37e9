"""Day close and reports: the z_reports and shift_closes tables and the indexes the daily totals read.

The covering index on sales answers every per-day aggregate (by channel, state, cashier, hour, and
the first/last receipt) from the index alone, without touching the table rows; refunds are found
by their time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: business_day first (the range), then every column a daily report reads.
SALES_DAY_COLUMNS = [
    "business_day",
    "terminal_id",
    "channel",
    "state",
    "cashier",
    "created_at",
    "amount_fen",
    "refunded_fen",
    "out_trade_no",
    "transaction_id",
]


def upgrade() -> None:
    op.create_table(
        "z_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("content_json", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("terminal_id", "business_day", name="uq_z_reports_day"),
        sa.UniqueConstraint("terminal_id", "number", name="uq_z_reports_number"),
    )
    op.create_table(
        "shift_closes",
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.Column("cash_expected_fen", sa.Integer(), nullable=False),
        sa.Column("cash_counted_fen", sa.Integer(), nullable=False),
        sa.Column("wechat_expected_fen", sa.Integer(), nullable=False),
        sa.Column("wechat_counted_fen", sa.Integer(), nullable=False),
        sa.Column("alipay_expected_fen", sa.Integer(), nullable=False),
        sa.Column("alipay_counted_fen", sa.Integer(), nullable=False),
        sa.Column("counted_by", sa.String(length=64), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_off_by", sa.String(length=64), nullable=True),
        sa.Column("signed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["shift_id"], ["shifts.id"]),
        sa.PrimaryKeyConstraint("shift_id"),
    )
    op.create_index("ix_sales_day_report", "sales", SALES_DAY_COLUMNS, unique=False)
    op.create_index(
        "ix_refunds_created_at", "refunds", ["created_at", "state", "sale_id", "amount_fen", "cashier"], unique=False
    )
    op.create_index("ix_cash_movements_at", "cash_movements", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cash_movements_at", table_name="cash_movements")
    op.drop_index("ix_refunds_created_at", table_name="refunds")
    op.drop_index("ix_sales_day_report", table_name="sales")
    op.drop_table("shift_closes")
    op.drop_table("z_reports")
