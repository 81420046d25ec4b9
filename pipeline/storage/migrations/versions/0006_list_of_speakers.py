"""list of speakers

A meeting's list of speakers: the missions inscribed to speak, which `intake missing`
checks submissions against once a list exists. A new table, one row per (meeting,
mission), unique; nothing that exists changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 04:45:00

Review before committing: autogenerate does not see renames (it drops and adds), server
defaults, or data that must move. A new NOT NULL column on a table with rows needs a
server_default. SQLite changes tables through op.batch_alter_table (copy and swap).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "speaker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("mission_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["mission_id"], ["mission.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "mission_id", name="uq_speaker_mission"),
    )
    with op.batch_alter_table("speaker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_speaker_meeting_id"), ["meeting_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("speaker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_speaker_meeting_id"))

    op.drop_table("speaker")
