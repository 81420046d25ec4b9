"""statement mission name

The mission a statement's title and first lines name as its author, beside the cover
letter's (`letter_mission_name`): a nullable column, empty for the submissions filed
before it (their statements were not read for it); nothing that exists changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:20:00

Review before committing: autogenerate does not see renames (it drops and adds), server
defaults, or data that must move. A new NOT NULL column on a table with rows needs a
server_default. SQLite changes tables through op.batch_alter_table (copy and swap).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statement_mission_name", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_column("statement_mission_name")
