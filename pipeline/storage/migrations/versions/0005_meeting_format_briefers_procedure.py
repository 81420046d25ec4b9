"""meeting format, briefers and procedure

The compilation letter says how the Council met, who briefed it and, for a
videoconference, the letter that set out its procedure. `meeting.meeting_format` takes
the new values of the settings' `format` ("video-teleconference" becomes
"videoconference", "meeting" becomes "in_person"; stored as strings, so only the rows
change); `briefers` (a JSON list of names, empty for the rows there are) and `procedure`
(a document symbol such as S/2020/372) are new.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:05:00

Review before committing: autogenerate does not see renames (it drops and adds), server
defaults, or data that must move. A new NOT NULL column on a table with rows needs a
server_default. SQLite changes tables through op.batch_alter_table (copy and swap).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RENAMED = (("video-teleconference", "videoconference"), ("meeting", "in_person"))


def _rename(pairs: Sequence[tuple[str, str]]) -> None:
    meeting = sa.table("meeting", sa.column("meeting_format", sa.String()))
    for old, new in pairs:
        op.execute(
            meeting.update()
            .where(meeting.c.meeting_format == op.inline_literal(old))
            .values(meeting_format=op.inline_literal(new))
        )


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("briefers", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("procedure", sa.String(length=16), nullable=True))
    _rename(_RENAMED)


def downgrade() -> None:
    _rename([(new, old) for old, new in _RENAMED])
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_column("procedure")
        batch_op.drop_column("briefers")
