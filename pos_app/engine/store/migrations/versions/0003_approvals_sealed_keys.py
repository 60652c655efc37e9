"""managers; terminals.sealed_key; refunds.approved_by/send_at/note; payments.void_kind

- ``managers``: who may approve refunds and voids, per store (PIN as salted scrypt), with the
  failed-PIN count and lockout that throttle guessing.
- ``terminals.sealed_key``: the terminal's HMAC key sealed under the ledger key file; ``key_b64``
  (the clear key of older ledgers) becomes nullable. The engine seals existing clear keys and empties
  ``key_b64`` when it starts with its key file (a migration has no key file to seal with).
- ``refunds.approved_by``: the manager who approved it; ``send_at``/``note``: a refund the gateway
  refused for frequency, sent again by itself at that time.
- ``payments.void_kind``: ``reversed`` or ``refunded`` for a same-day void of a paid payment.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "managers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("store_id", sa.String(6), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        # Naive UTC like the payment tables (pos_app.engine.store.types.UtcDateTime).
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("store_id", "name", name="uq_managers_store_name"),
    )
    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("sealed_key", sa.String(128), nullable=True))
        batch.alter_column("key_b64", existing_type=sa.String(64), nullable=True)
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("approved_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("send_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("note", sa.String(255), nullable=True))
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("void_kind", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("void_kind")
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("note")
        batch.drop_column("send_at")
        batch.drop_column("approved_by")
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("sealed_key")
    op.drop_table("managers")
