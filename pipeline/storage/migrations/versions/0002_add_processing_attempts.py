"""add processing attempts: the crash counter behind poison-message quarantine

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 21:36:54.233291

Review before committing: autogenerate does not see renames (it drops and adds), server
defaults, or data that must move. A new NOT NULL column on a table with rows needs a
server_default. SQLite changes tables through op.batch_alter_table (copy and swap).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Builds before this migration created the table on their own: keep it if present.
    if sa.inspect(op.get_bind()).has_table("processingattempt"):
        return
    op.create_table(
        "processingattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=400), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("worker", sa.String(length=120), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_attempt_message"),
    )


def downgrade() -> None:
    op.drop_table("processingattempt")
