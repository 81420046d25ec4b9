"""A delegation's submission in one call: statement and cover letter, attached to an email.

Why this module exists: most tests and the demo need "Ghana sends its statement" with one
or two variations (no cover letter, a scanned cover letter, a PDF statement, French text,
a misnamed file...). This module assembles such a submission from the sample parts, each
built the way real tools build them:

- :mod:`pipeline.demo.statements` and :mod:`pipeline.demo.letters`, the documents, as
  real .docx files (:mod:`pipeline.demo.word`) or complete PDFs (:mod:`pipeline.demo.pdf`);
- :mod:`pipeline.demo.mail`, the RFC 822 bytes, and :mod:`pipeline.demo.automatic`, the
  out-of-office replies and bounces;
- :mod:`pipeline.demo.meetings`, the debates referred to, :mod:`pipeline.demo.texts`, the
  phrases, and :mod:`pipeline.demo.determinism`, why the same arguments always give the
  same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pipeline.demo.letters import DEFAULT_LETTER_DATE, cover_letter_docx, cover_letter_pdf
from pipeline.demo.mail import NO_HEADERS, Attachment, build_email
from pipeline.demo.meetings import MEETINGS, PKO_SAFETY, Meeting
from pipeline.demo.names import filename_slug
from pipeline.demo.pdf import PDF_CONTENT_TYPE
from pipeline.demo.statements import (
    sample_statement_text,
    statement_docx,
    statement_pdf,
    statement_subtitle,
    statement_title,
)
from pipeline.demo.texts import Language
from pipeline.demo.word import DOCX_CONTENT_TYPE

__all__ = ["CoverFormat", "submission_attachments", "submission_email"]

CoverFormat = Literal["pdf", "docx"]


def submission_attachments(
    *,
    mission_name: str,
    meeting_code: str = PKO_SAFETY.code,
    statement: bool = True,
    cover_letter: CoverFormat | None = "pdf",
    statement_as_pdf: bool = False,
    statement_filename: str | None = None,
    cover_filename: str | None = None,
    words: int = 350,
    language: Language = "en",
    signatory: str = "Permanent Representative",
    signer_name: str | None = None,
    cover_with_text_layer: bool = True,
    letter_date_text: str = DEFAULT_LETTER_DATE,
    with_table: bool = False,
) -> list[Attachment]:
    """The attachments :func:`submission_email` would send, for tests that compare bytes.

    An unknown ``meeting_code`` keeps the PKO-SAFETY documents (only the email subject
    carries the code), so "wrong code" tests still get realistic attachments.
    """
    meeting = MEETINGS.get(meeting_code, PKO_SAFETY)
    slug = filename_slug(mission_name)
    attachments: list[Attachment] = []
    if statement:
        title = statement_title(mission_name, language=language)
        subtitle = statement_subtitle(meeting, language=language)
        paragraphs = sample_statement_text(mission_name, words, language=language)
        if statement_as_pdf:
            attachments.append(
                Attachment(
                    statement_filename or f"Statement_{slug}.pdf",
                    statement_pdf(title, paragraphs, language=language, subtitle=subtitle),
                    PDF_CONTENT_TYPE,
                )
            )
        else:
            content = statement_docx(
                title,
                paragraphs,
                language=language,
                subtitle=subtitle,
                with_table=with_table,
                author=f"Permanent Mission of {mission_name}",
            )
            attachments.append(
                Attachment(
                    statement_filename or f"Statement_{slug}.docx", content, DOCX_CONTENT_TYPE
                )
            )
    if cover_letter == "pdf":
        attachments.append(
            Attachment(
                cover_filename or f"Cover_letter_{slug}.pdf",
                cover_letter_pdf(
                    mission_name,
                    signatory=signatory,
                    meeting_title=meeting.title,
                    date_text=letter_date_text,
                    meeting_date_text=meeting.date_text,
                    signer_name=signer_name,
                    with_text_layer=cover_with_text_layer,
                ),
                PDF_CONTENT_TYPE,
            )
        )
    elif cover_letter == "docx":
        attachments.append(
            Attachment(
                cover_filename or f"Cover_letter_{slug}.docx",
                cover_letter_docx(
                    mission_name,
                    signatory=signatory,
                    meeting_title=meeting.title,
                    date_text=letter_date_text,
                    meeting_date_text=meeting.date_text,
                    signer_name=signer_name,
                ),
                DOCX_CONTENT_TYPE,
            )
        )
    return attachments


def _default_body(mission_name: str, meeting: Meeting, sender_name: str | None) -> str:
    """What a mission's political coordinator writes above the attachments."""
    return (
        "Dear Colleagues,\n\n"
        f"On behalf of the Permanent Mission of {mission_name} to the United Nations, please "
        "find attached the written statement and the cover letter for the Security Council "
        f"open debate on “{meeting.title}” ({meeting.date_text}).\n\n"
        "Kind regards,\n"
        f"{sender_name or 'Political Coordinator'}\n"
        f"Permanent Mission of {mission_name} to the United Nations\n"
    )


def submission_email(
    *,
    mission_name: str,
    sender: str,
    to: str,
    meeting_code: str = PKO_SAFETY.code,
    statement: bool = True,
    cover_letter: CoverFormat | None = "pdf",
    statement_as_pdf: bool = False,
    statement_filename: str | None = None,
    cover_filename: str | None = None,
    words: int = 350,
    language: Language = "en",
    subject: str | None = None,
    body: str | None = None,
    sender_name: str | None = None,
    signatory: str = "Permanent Representative",
    signer_name: str | None = None,
    cover_with_text_layer: bool = True,
    letter_date_text: str = DEFAULT_LETTER_DATE,
    with_table: bool = False,
    html: bool = False,
    extra_attachments: Sequence[Attachment] = (),
    cc: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    extra_headers: Mapping[str, str] = NO_HEADERS,
) -> bytes:
    """One call for a typical delegation submission: statement + cover letter by email.

    Why: most tests and the demo need "Ghana sends its statement" with one or two
    variations (no cover letter, a scanned cover letter, a PDF statement, French text, a
    misnamed file...). Defaults: subject "PKO-SAFETY: written statement of <mission>",
    attachments "Statement_<Mission>.docx" and "Cover_letter_<Mission>.pdf" (see
    :func:`submission_attachments` for the exact bytes). ``extra_attachments`` are added
    after them, e.g. an inline logo.
    """
    meeting = MEETINGS.get(meeting_code, PKO_SAFETY)
    attachments = submission_attachments(
        mission_name=mission_name,
        meeting_code=meeting_code,
        statement=statement,
        cover_letter=cover_letter,
        statement_as_pdf=statement_as_pdf,
        statement_filename=statement_filename,
        cover_filename=cover_filename,
        words=words,
        language=language,
        signatory=signatory,
        signer_name=signer_name,
        cover_with_text_layer=cover_with_text_layer,
        letter_date_text=letter_date_text,
        with_table=with_table,
    )
    text = body if body is not None else _default_body(mission_name, meeting, sender_name)
    html_body = None
    if html:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in escaped.split("\n\n"))
        html_body = f"<html><body>{paragraphs}</body></html>\n"
    return build_email(
        sender=sender,
        to=to,
        subject=subject or f"{meeting_code}: written statement of {mission_name}",
        body=text,
        attachments=[*attachments, *extra_attachments],
        date=date,
        message_id=message_id,
        extra_headers=extra_headers,
        sender_name=sender_name,
        cc=cc,
        html_body=html_body,
    )
