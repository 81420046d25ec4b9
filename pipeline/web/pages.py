"""The dashboard's pages (GET): the overview, the queue, one submission, missing
statements, replies (and one reply's exact text), the audit log, and the two downloads
(a stored original, a meeting's compilation).

A page is a view from `pipeline.desk.views` put into a template; each is for signed-in
users only (`guards.page`).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from pipeline.compilation import (
    CompilationError,
    CompilationTemplates,
    compile_meeting,
    texts_roots,
)
from pipeline.desk.views import (
    NotFound,
    audit_log,
    list_meetings,
    list_missions,
    list_replies,
    missing_report,
    queue_overview,
    reply_state,
    submission_detail,
)
from pipeline.domain import MeetingStatus
from pipeline.printable import visible
from pipeline.replies.outbox import reply_text
from pipeline.settings import Settings
from pipeline.settings.models import SmtpSettings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore, safe_filename
from pipeline.storage.queries import list_submissions
from pipeline.web.context import context_of, read
from pipeline.web.files import previews_of
from pipeline.web.forms import row_id
from pipeline.web.guards import page
from pipeline.web.rendering import error_page, flash, render

log = logging.getLogger(__name__)


@page
async def overview(request: Request, user: str) -> Response:  # noqa: ARG001
    data = await read(request, lambda s: queue_overview(s, now=m.utcnow()))
    return render(request, "overview.html", {"overview": data}, refresh=_refresh(request))


def _refresh(request: Request) -> int:
    """How often a list page fetches its data again (`[web] refresh_seconds`)."""
    return context_of(request).settings.web.refresh_seconds


def _queue_data(
    session: Session, meeting: str | None, status: m.SubmissionStatus | None, mission: str | None
) -> dict[str, Any]:
    everything = list_submissions(session)
    rows = list_submissions(session, meeting=meeting, status=status)
    if mission:
        rows = [row for row in rows if row.mission == mission]
    missions = sorted(
        {(row.mission, row.mission_name or row.mission) for row in everything if row.mission},
        key=lambda pair: pair[1] or "",
    )
    return {
        "rows": list(reversed(rows)),  # newest first
        "total": len(everything),
        "meetings": list_meetings(session),
        "missions": missions,
    }


@page
async def submissions(request: Request, user: str) -> Response:  # noqa: ARG001
    params = request.query_params
    meeting = params.get("meeting", "").strip().upper() or None
    mission = params.get("mission", "").strip().upper() or None
    status_text = params.get("status", "").strip().lower()
    statuses = {s.value: s for s in m.SubmissionStatus}
    if status_text and status_text not in statuses:
        return error_page(request, 400, "Unknown status", f"There is no status {status_text!r}.")
    status = statuses.get(status_text)
    data = await read(request, lambda s: _queue_data(s, meeting, status, mission))
    data["filters"] = {"meeting": meeting or "", "status": status_text, "mission": mission or ""}
    data["statuses"] = list(statuses)
    return render(request, "submissions.html", data, refresh=_refresh(request))


def _submission_data(
    session: Session, reference: str, blobs: BlobStore, settings: Settings
) -> dict[str, Any]:
    detail = submission_detail(session, reference, blobs)
    open_meetings = [row for row in list_meetings(session) if row.status == MeetingStatus.OPEN]
    missions = list_missions(session) if detail.mission is None else []
    return {
        "s": detail,
        "open_meetings": open_meetings,
        "missions": missions,
        "previews": previews_of(detail, blobs, settings),
    }


@page
async def submission(request: Request, user: str) -> Response:  # noqa: ARG001
    reference = request.path_params["reference"]
    ctx = context_of(request)
    try:
        data = await read(
            request, lambda s: _submission_data(s, reference, ctx.blobs, ctx.settings)
        )
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    return render(request, "submission.html", data)


@page
async def missing(request: Request, user: str) -> Response:  # noqa: ARG001
    code = request.query_params.get("meeting", "").strip().upper()

    def work(session: Session) -> dict[str, Any]:
        meetings = list_meetings(session)
        chosen = code
        if not chosen:
            open_codes = [row.code for row in meetings if row.status == MeetingStatus.OPEN]
            chosen = open_codes[0] if len(open_codes) == 1 else ""
        report = missing_report(session, chosen) if chosen else None
        rows = report.rows if report else None
        return {"meetings": meetings, "meeting": chosen, "rows": rows, "report": report}

    try:
        data = await read(request, work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    return render(request, "missing.html", data)


@page
async def replies(request: Request, user: str) -> Response:  # noqa: ARG001
    status_text = request.query_params.get("status", "").strip().lower()
    statuses = {s.value: s for s in m.ReplyStatus}
    if status_text and status_text not in statuses:
        return error_page(request, 400, "Unknown status", f"There is no status {status_text!r}.")
    status = statuses.get(status_text)
    rows = await read(request, lambda s: list_replies(s, status=status))
    return render(
        request,
        "replies.html",
        {"rows": list(reversed(rows)), "status": status_text, "statuses": list(statuses)},
        refresh=_refresh(request),
    )


def _reply_data(session: Session, reply_id: int, smtp: SmtpSettings) -> dict[str, Any]:
    row = session.get(m.Reply, reply_id)
    if row is None:
        raise NotFound(f"There is no reply with the id {reply_id}.")
    submission = session.get(m.Submission, row.submission_id) if row.submission_id else None
    return {
        "reply": row,
        "state": reply_state(row),
        "reference": submission.reference if submission else None,
        # The text `intake replies show` prints, built by the same function.
        "text": visible(reply_text(row, smtp), lines=True),
    }


@page
async def reply(request: Request, user: str) -> Response:  # noqa: ARG001
    """One reply exactly as it was (or will be) sent: its headers and its text."""
    reply_id = int(request.path_params["id"])
    smtp = context_of(request).settings.smtp
    try:
        data = await read(request, lambda s: _reply_data(s, reply_id, smtp))
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    return render(request, "reply.html", data)


@page
async def audit(request: Request, user: str) -> Response:  # noqa: ARG001
    rows = await read(request, lambda s: audit_log(s, limit=300))
    return render(request, "audit.html", {"rows": rows})


@page
async def download(request: Request, user: str) -> Response:
    """The stored original, always as a download: a file from a delegation is never shown
    by the browser (it could be HTML, or anything pretending to be)."""
    document_id = row_id(request)
    ctx = context_of(request)
    if document_id is None:
        number = request.path_params["id"]
        return error_page(request, 404, "Not found", f"There is no document {number}.")
    document = await read(request, lambda s: s.get(m.Document, document_id))
    if document is None:
        return error_page(request, 404, "Not found", f"There is no document {document_id}.")
    path = ctx.blobs.path_for(document.sha256)
    if not path.is_file():
        log.error("document %s: the stored file %s is missing", document_id, path)
        return error_page(request, 404, "File missing", "The stored file is missing.")
    ascii_name = safe_filename(document.safe_name or document.filename).replace('"', "_")
    encoded = quote(document.filename, safe="")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
    log.info("%s downloaded document %s (%s)", user, document_id, ascii_name)
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


@page
async def compilation(request: Request, user: str) -> Response:
    """The meeting's compilation, built now from its accepted statements: a desk override
    made a minute ago is in it."""
    code: str = request.path_params["code"].upper()
    ctx = context_of(request)

    def build() -> bytes:
        templates = CompilationTemplates.load(texts_roots(ctx.settings))
        with tempfile.TemporaryDirectory(prefix="intake-compilation-") as folder:
            out = Path(folder) / f"{code}.docx"
            with Session(ctx.ready()) as session:
                compile_meeting(session, ctx.blobs, code, templates=templates, out=out)
            return out.read_bytes()

    try:
        content = await run_in_threadpool(build)
    except CompilationError as error:
        flash(request, "error", f"No compilation for {code}: {error}.")
        return RedirectResponse("/", status_code=303)
    log.info("%s downloaded the compilation of %s", user, code)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe_filename(code)}-compilation.docx"',
            "X-Content-Type-Options": "nosniff",
        },
    )
