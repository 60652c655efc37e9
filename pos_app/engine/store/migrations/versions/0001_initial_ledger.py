"""initial ledger: payments, attempts, refunds, notification inbox, status events; terminals, nonces

The terminals/activation codes/nonces/uploaded journal events tables are defined by
``pos_app/engine/store/terminals.py`` (the HTTP API side); they are created here too so that one
migration run gives the whole ledger schema on SQLite and PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    # Naive UTC on both dialects (pos_app.engine.store.types.UtcDateTime converts at the edge).
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=False),
        sa.Column("store_id", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(127), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("business_day", sa.String(10), nullable=False),
        sa.Column("code_url", sa.String(512), nullable=True),
        _at("expires_at", True),
        _at("deadline_at", True),
        sa.Column("transaction_id", sa.String(64), nullable=True),
        sa.Column("masked_auth_code", sa.String(32), nullable=True),
        sa.Column("failure_reason", sa.String(255), nullable=True),
        sa.Column("gateway_code", sa.String(64), nullable=True),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("failed_checks", sa.Integer(), nullable=False),
        _at("lease_until", True),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("paid_at", True),
    )
    op.create_index("ix_payments_out_trade_no", "payments", ["out_trade_no"], unique=True)
    op.create_index("ix_payments_terminal_id", "payments", ["terminal_id"])
    op.create_index("ix_payments_state", "payments", ["state"])
    op.create_index("ix_payments_business_day", "payments", ["business_day"])

    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("out_refund_no", sa.String(64), nullable=True),
        sa.Column("op", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("detail", sa.String(255), nullable=True),
        _at("at"),
    )
    op.create_index("ix_attempts_out_trade_no", "attempts", ["out_trade_no"])

    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("out_refund_no", sa.String(64), nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("business_day", sa.String(10), nullable=False),
        sa.Column("refund_id", sa.String(64), nullable=True),
        sa.Column("failure_reason", sa.String(255), nullable=True),
        sa.Column("failed_checks", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("succeeded_at", True),
    )
    op.create_index("ix_refunds_out_refund_no", "refunds", ["out_refund_no"], unique=True)
    op.create_index("ix_refunds_out_trade_no", "refunds", ["out_trade_no"])
    op.create_index("ix_refunds_terminal_id", "refunds", ["terminal_id"])
    op.create_index("ix_refunds_state", "refunds", ["state"])
    op.create_index("ix_refunds_business_day", "refunds", ["business_day"])

    op.create_table(
        "notification_inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("out_trade_no", sa.String(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("parsed", sa.JSON(), nullable=False),
        _at("received_at"),
        _at("applied_at", True),
        sa.Column("outcome", sa.String(64), nullable=True),
        sa.UniqueConstraint("channel", "event_id", name="uq_inbox_channel_event"),
    )
    op.create_index("ix_notification_inbox_out_trade_no", "notification_inbox", ["out_trade_no"])

    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("terminal_id", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _at("created_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_status_events_terminal_id_id", "status_events", ["terminal_id", "id"])

    # --- terminals.py: aware datetimes (timestamptz on PostgreSQL) ---
    op.create_table(
        "terminals",
        sa.Column("terminal_id", sa.String(4), primary_key=True),
        sa.Column("store_id", sa.String(6), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_b64", sa.String(64), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_terminals_store_id", "terminals", ["store_id"])
    op.create_table(
        "activation_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("store_id", sa.String(6), nullable=True),
        sa.Column("terminal_id", sa.String(4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.String(4), nullable=True),
    )
    op.create_table(
        "terminal_nonces",
        sa.Column("terminal_id", sa.String(4), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_terminal_nonces_expires_at", "terminal_nonces", ["expires_at"])
    op.create_table(
        "terminal_journal_events",
        sa.Column("terminal_id", sa.String(4), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload_json", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(128), nullable=False),
        sa.Column("hash", sa.String(128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "terminal_journal_events",
        "terminal_nonces",
        "activation_codes",
        "terminals",
        "status_events",
        "notification_inbox",
        "refunds",
        "attempts",
        "payments",
    ):
        op.drop_table(table)
