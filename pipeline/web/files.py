"""Seeing the files without downloading them: the statement rendered as text on the
submission page, the cover letter PDF shown inline, the mail Intake did not answer, and
any message's raw source.

Only a submission from a registered mission gets previews: a stranger's files are not
opened here (download them deliberately). The statement goes through
`desk.preview.statement_preview` (checked, converted, sanitised); the cover letter is
served as `application/pdf` only when its bytes are a PDF, to frames of this site only;
a raw message is plain text with its control characters made visible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pipeline.desk.preview import Preview, statement_preview
from pipeline.desk.views import NotFound, SubmissionDetail, find_message, ignored_messages
from pipeline.documents.reading import zip_limits
from pipeline.printable import visible
from pipeline.settings import Settings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore, safe_filename
from pipeline.web.context import context_of, read
from pipeline.web.forms import row_id
from pipeline.web.guards import page
from pipeline.web.rendering import error_page, render

__all__ = ["Previews", "ignored", "letter_inline", "previews_of", "raw_message"]

log = logging.getLogger(__name__)

# The cover letter may be framed by the submission page, and by nothing else.
_FRAMED_BY_US = {
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'",
}
STRANGER = (
    "From an address no mission registered: its files are not opened here. Download them "
    "to look, knowing who sent them."
)


@dataclass(frozen=True)
class Previews:
    """What the submission page shows of the files: the statement as HTML (or why not),
    the cover letter's document id for the inline frame, or why nothing is shown."""

    statement: Preview | None
    letter_id: int | None
    withheld: str | None = None


def previews_of(detail: SubmissionDetail, blobs: BlobStore, settings: Settings) -> Previews:
    if detail.mission is None:
        return Previews(None, None, STRANGER)
    documents = {d.role: d for d in reversed(detail.documents)}
    statement = documents.get(m.DocumentRole.CONVERTED_STATEMENT.value) or documents.get(
        m.DocumentRole.STATEMENT.value
    )
    preview = None
    if statement is not None and statement.detected_type == "docx":
        try:
            content = blobs.get(statement.sha256)
        except OSError:
            preview = Preview(None, "Not shown: the stored file is missing.")
        else:
            preview = statement_preview(content, zip_limits(settings.documents))
    elif statement is not None:
        preview = Preview(None, f"Not shown: a {statement.detected_type} file is not previewed.")
    letter = documents.get(m.DocumentRole.COVER_LETTER.value)
    letter_id = letter.id if letter is not None and letter.detected_type == "pdf" else None
    return Previews(preview, letter_id)


@page
async def letter_inline(request: Request, user: str) -> Response:  # noqa: ARG001
    """A registered mission's cover letter PDF, for the frame on the submission page."""
    document_id = row_id(request)
    ctx = context_of(request)

    def find(session: Session) -> tuple[m.Document, m.Submission | None] | None:
        document = session.get(m.Document, document_id) if document_id is not None else None
        if document is None:
            return None
        return document, session.get(m.Submission, document.submission_id)

    found = await read(request, find)
    if found is None:
        return error_page(request, 404, "Not found", "There is no such document.")
    document, submission = found
    if submission is None or submission.mission_id is None:
        return error_page(request, 403, "Not shown", STRANGER)
    content = (
        ctx.blobs.get(document.sha256) if ctx.blobs.path_for(document.sha256).is_file() else b""
    )
    if document.detected_type != "pdf" or not content.startswith(b"%PDF-"):
        return error_page(request, 415, "Not shown", "Only a PDF cover letter is shown here.")
    name = quote(safe_filename(document.safe_name or document.filename), safe="")
    headers = {"Content-Disposition": f"inline; filename*=UTF-8''{name}", **_FRAMED_BY_US}
    return Response(content, media_type="application/pdf", headers=headers)


@page
async def ignored(request: Request, user: str) -> Response:  # noqa: ARG001
    """Mail filed without a reply, newest first, with why."""
    rows = await read(request, lambda session: ignored_messages(session))
    return render(request, "ignored.html", {"rows": rows})


@page
async def raw_message(request: Request, user: str) -> Response:
    """A message's source as it arrived, as plain text (never rendered by the browser),
    control characters made visible."""
    record_id = row_id(request)
    ctx = context_of(request)
    if record_id is None:
        return error_page(request, 404, "Not found", "There is no such message.")
    try:
        record = await read(request, lambda session: find_message(session, record_id))
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    if not ctx.blobs.path_for(record.raw_sha256).is_file():
        return error_page(request, 404, "File missing", "The stored message is missing.")
    text = ctx.blobs.get(record.raw_sha256).decode("utf-8", errors="replace")
    log.info("%s viewed the raw message %s", user, record_id)
    return PlainTextResponse(visible(text, lines=True), headers={"Content-Disposition": "inline"})
