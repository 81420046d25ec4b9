"""${message}

Revision ID: ${up_revision}
Revises: ${comma(down_revision) if down_revision else "nothing (the first)"}
Create Date: ${create_date}

Review before committing: autogenerate does not see renames (it drops and adds), server
defaults, or data that must move. A new NOT NULL column on a table with rows needs a
server_default. SQLite changes tables through op.batch_alter_table (copy and swap).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
