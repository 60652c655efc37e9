"""wallet_pages (one-QR pages and store QR codes); payments.channel nullable

- ``wallet_pages``: one row per page token. ``one_qr``: the page of one sale (``out_trade_no``), and
  once a wallet opened it, which wallet, a hash of the payer's id (the same payer may reopen it)
  and the gateway reference the page hands to the bridge (WeChat prepay_id / Alipay trade_no).
  ``store_qr``: a till's printed store code; ``replaced_at`` is set when the till rotates it.
- ``payments.channel`` is NULL for a one_qr payment whose page no wallet has opened yet.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
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
    op.create_table(
        "wallet_pages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("store_id", sa.String(16), nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("payer_hash", sa.String(64), nullable=True),
        sa.Column("bridge_ref", sa.String(64), nullable=True),
        # Naive UTC like the payment tables (pos_app.engine.store.types.UtcDateTime).
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("replaced_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_wallet_pages_token", "wallet_pages", ["token"], unique=True)
    op.create_index("ix_wallet_pages_terminal_id", "wallet_pages", ["terminal_id"])
    op.create_index("ix_wallet_pages_out_trade_no", "wallet_pages", ["out_trade_no"])
    with op.batch_alter_table("payments") as batch:
        batch.alter_column("channel", existing_type=sa.String(16), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.alter_column("channel", existing_type=sa.String(16), nullable=False)
    op.drop_index("ix_wallet_pages_out_trade_no", "wallet_pages")
    op.drop_index("ix_wallet_pages_terminal_id", "wallet_pages")
    op.drop_index("ix_wallet_pages_token", "wallet_pages")
    op.drop_table("wallet_pages")
