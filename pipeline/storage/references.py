"""Human-readable references (`PKO-SAFETY-0007`) that are never issued twice.

The counter row is incremented with one UPDATE, which takes a row lock in PostgreSQL and
the write lock in SQLite: two workers can never draw the same number.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from pipeline.storage.models import ReferenceCounter

UNROUTED_PREFIX = "INTAKE"


def next_reference(session: Session, prefix: str) -> str:
    table = ReferenceCounter.__table__  # type: ignore[attr-defined]
    for _ in range(2):
        result = session.execute(
            sa.update(table)
            .where(table.c.prefix == prefix)
            .values(last=table.c.last + 1)
            .returning(table.c.last)
        ).first()
        if result is not None:
            return f"{prefix}-{int(result[0]):04d}"
        try:
            with session.begin_nested():
                session.execute(sa.insert(table).values(prefix=prefix, last=0))
        except IntegrityError:
            pass  # another worker created it first; the UPDATE will now find it
    raise RuntimeError(f"could not allocate a reference for {prefix}")
