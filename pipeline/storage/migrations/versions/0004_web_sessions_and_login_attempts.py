"""web sessions and login attempts

Dashboard sessions live on the server (`websession`: the SHA-256 of the cookie's token,
the user, a fingerprint of the password it was opened with), so that signing out,
`intake users passwd` and `intake users remove` end them at once. Sign-in attempts are
counted per user name and per address (`loginattempt`) to lock out password guessing
across every dashboard process. Two new tables: nothing to move; existing cookies (which
name no server-side session) are refused, so everybody signs in again after the upgrade.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 12:26:49.731400

Review before committing: autogenerate does not see renames (it drops and adds), server
defaults, or data that must move. A new NOT NULL column on a table with rows needs a
server_default. SQLite changes tables through op.batch_alter_table (copy and swap).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loginattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_key", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("loginattempt", schema=None) as batch_op:
        batch_op.create_index("ix_loginattempt_address_at", ["address", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_loginattempt_at"), ["at"], unique=False)
        batch_op.create_index("ix_loginattempt_user_key_at", ["user_key", "at"], unique=False)

    op.create_table(
        "websession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=120), nullable=False),
        sa.Column("credential", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("websession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_websession_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_websession_user_name"), ["user_name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("websession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_websession_user_name"))
        batch_op.drop_index(batch_op.f("ix_websession_created_at"))

    op.drop_table("websession")
    with op.batch_alter_table("loginattempt", schema=None) as batch_op:
        batch_op.drop_index("ix_loginattempt_user_key_at")
        batch_op.drop_index(batch_op.f("ix_loginattempt_at"))
        batch_op.drop_index("ix_loginattempt_address_at")

    op.drop_table("loginattempt")
