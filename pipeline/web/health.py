"""What the dashboard tells machines: `/healthz` for load balancers and monitoring, and
`/metrics` for Prometheus (rendered by `metrics`). Neither needs a login, and both
answer while the database is down (503).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipeline.storage import models as m
from pipeline.web.context import context_of
from pipeline.web.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from pipeline.web.metrics import render_metrics

log = logging.getLogger(__name__)


def _health(engine: Engine) -> tuple[bool, str, str | None]:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("healthz: the database cannot be used: %s", str(error).splitlines()[0])
        return False, "unavailable", None
    try:
        with Session(engine) as session:
            run = session.exec(
                select(m.WorkerRun)
                .where(col(m.WorkerRun.ok).is_(True), col(m.WorkerRun.finished_at).is_not(None))
                .order_by(col(m.WorkerRun.finished_at).desc())
                .limit(1)
            ).first()
    except SQLAlchemyError:
        run = None  # reachable, but no tables yet: no run has succeeded
    last = run.finished_at.isoformat() if run is not None and run.finished_at else None
    return True, "ok", last


async def healthz(request: Request) -> Response:
    """For load balancers and monitoring: the database answers; when the last good run was."""
    ok, database, last = await run_in_threadpool(_health, context_of(request).engine)
    body = {"status": "ok" if ok else "fail", "database": database, "last_successful_run": last}
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    engine = context_of(request).engine

    def work() -> str:
        with Session(engine) as session:
            return render_metrics(session)

    try:
        text = await run_in_threadpool(work)
    except SQLAlchemyError as error:
        log.warning("metrics: the database cannot be used: %s", str(error).splitlines()[0])
        return Response("# the database cannot be read\n", status_code=503, media_type="text/plain")
    return Response(text, media_type=METRICS_CONTENT_TYPE)
