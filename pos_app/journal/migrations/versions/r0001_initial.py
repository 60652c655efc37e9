"""Initial journal schema: staff, counters, sales, lines, attempts, refunds, shifts, cash, events, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 18:59:16.887894
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "counters",
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("terminal_id", "name"),
    )
    op.create_table(
        "events",
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("at_text", sa.String(length=40), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("terminal_id", "seq"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_ref", ["ref"], unique=False)

    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("cashier", sa.String(length=64), nullable=False),
        sa.Column("opening_float_fen", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("expected_cash_fen", sa.Integer(), nullable=True),
        sa.Column("counted_cash_fen", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shifts_terminal_id"), ["terminal_id"], unique=False)

    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("pin_hash", sa.String(length=256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "cash_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("cashier", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["shifts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cash_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cash_movements_shift_id"), ["shift_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cash_movements_terminal_id"), ["terminal_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["terminal_id", "seq"],
            ["events.terminal_id", "events.seq"],
        ),
        sa.PrimaryKeyConstraint("terminal_id", "seq"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("terminal_id", sa.String(length=8), nullable=False),
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("cashier", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.Enum("WECHAT", "ALIPAY", "CASH", name="channel"), nullable=False),
        sa.Column("mode", sa.Enum("NATIVE", "MICROPAY", "CASH", name="paymentmode"), nullable=False),
        sa.Column("subject", sa.String(length=127), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "CREATED",
                "AWAITING_SCAN",
                "SUBMITTED",
                "USER_PAYING",
                "UNKNOWN",
                "PAID",
                "FAILED",
                "CLOSED",
                "REVERSED",
                "PARTIALLY_REFUNDED",
                "REFUNDED",
                name="paymentstate",
            ),
            nullable=False,
        ),
        sa.Column("refunded_fen", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("shift_id", sa.Integer(), nullable=True),
        sa.Column("business_day", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["shifts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("out_trade_no"),
    )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_business_day"), ["business_day"], unique=False)
        batch_op.create_index(batch_op.f("ix_sales_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_sales_terminal_id"), ["terminal_id"], unique=False)

    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.Enum("WECHAT", "ALIPAY", "CASH", name="channel"), nullable=False),
        sa.Column("mode", sa.Enum("NATIVE", "MICROPAY", "CASH", name="paymentmode"), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "CREATED",
                "AWAITING_SCAN",
                "SUBMITTED",
                "USER_PAYING",
                "UNKNOWN",
                "PAID",
                "FAILED",
                "CLOSED",
                "REVERSED",
                "PARTIALLY_REFUNDED",
                "REFUNDED",
                name="paymentstate",
            ),
            nullable=False,
        ),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("cashier", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("out_trade_no"),
    )
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_attempts_sale_id"), ["sale_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_attempts_state"), ["state"], unique=False)

    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("out_refund_no", sa.String(length=32), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("PENDING", "PROCESSING", "UNKNOWN", "SUCCESS", "FAILED", name="refundstate"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("failure_reason", sa.String(length=255), nullable=True),
        sa.Column("cashier", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("out_refund_no"),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_out_trade_no"), ["out_trade_no"], unique=False)
        batch_op.create_index(batch_op.f("ix_refunds_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "sale_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=127), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_fen", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sale_id", "line_no"),
    )
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sale_lines_sale_id"), ["sale_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sale_lines_sale_id"))

    op.drop_table("sale_lines")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_sale_id"))
        batch_op.drop_index(batch_op.f("ix_refunds_out_trade_no"))

    op.drop_table("refunds")
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_attempts_state"))
        batch_op.drop_index(batch_op.f("ix_payment_attempts_sale_id"))

    op.drop_table("payment_attempts")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_terminal_id"))
        batch_op.drop_index(batch_op.f("ix_sales_state"))
        batch_op.drop_index(batch_op.f("ix_sales_business_day"))

    op.drop_table("sales")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_sent_at"))

    op.drop_table("outbox")
    with op.batch_alter_table("cash_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cash_movements_terminal_id"))
        batch_op.drop_index(batch_op.f("ix_cash_movements_shift_id"))

    op.drop_table("cash_movements")
    op.drop_table("staff")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shifts_terminal_id"))

    op.drop_table("shifts")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_ref")

    op.drop_table("events")
    op.drop_table("counters")
