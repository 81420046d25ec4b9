"""The President's letter: the first page of the compilation, after the masthead.

The wording follows the letters the Council issued for its open debates: the title
("Letter dated 28 May 2021 from the President of the Security Council addressed to
..."), the meeting and its day ("the videoconference open debate on “...”, convened on
Monday, 24 May 2021"), who briefed the Council when the meeting's configuration names
the briefers, the delegations and entities that submitted statements, for a
videoconference the procedure it relied on when the configuration names its letter
(S/2020/372), the request to issue the letter and annexes, and "(Signed) NAME /
President of the Security Council". Every sentence comes from the texts of the
compilation's language (templates.py), typeset there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from docx.document import Document as DocxDocument

from pipeline.compilation.styles import LETTER_TEXT, SIGNATURE, TITLE
from pipeline.compilation.templates import CompilationTemplates
from pipeline.domain import MeetingFormat
from pipeline.missions.registry import find_mission
from pipeline.storage import models as m

__all__ = ["write_letter"]


def write_letter(
    document: DocxDocument,
    meeting: m.Meeting,
    names: Sequence[str],
    templates: CompilationTemplates,
    letter_date: date,
    warnings: list[str],
) -> str:
    """Write the letter listing `names` (in list order); returns its title."""
    context = _context(meeting, names, templates, letter_date, warnings)
    title = templates.render("letter.title", context)
    document.add_paragraph(title, style=TITLE)
    keys = ["letter.opening"]
    if meeting.briefers:
        keys.append("letter.briefers")
    keys.append("letter.list")
    if meeting.meeting_format is MeetingFormat.VIDEOCONFERENCE and meeting.procedure:
        keys.append("letter.procedure")
    keys.append("letter.closing")
    for key in keys:
        document.add_paragraph(templates.render(key, context), style=LETTER_TEXT)
    for index, line in enumerate(templates.signature(context)):
        paragraph = document.add_paragraph(line, style=SIGNATURE)
        if index == 0:
            paragraph.paragraph_format.keep_with_next = True
    return title


def _context(
    meeting: m.Meeting,
    names: Sequence[str],
    templates: CompilationTemplates,
    letter_date: date,
    warnings: list[str],
) -> dict[str, Any]:
    president = meeting.president
    if not president:
        president = templates.render("letter.president_missing", {})
        warnings.append(
            f"{meeting.code} has no president configured: the letter is signed "
            f"{president!r} (set president in its [[meetings]] entry)"
        )
    presidency = find_mission(meeting.presidency) if meeting.presidency else None
    return {
        "meeting_title": meeting.title,
        "meeting_code": meeting.code,
        "meeting_date": templates.format_date(meeting.date),
        "meeting_day": templates.format_day(meeting.date),
        "letter_date": templates.format_date(letter_date),
        "debate": templates.debate(meeting.meeting_format.value),
        "briefers": templates.join(list(meeting.briefers), titled=True),
        "procedure": meeting.procedure or "",
        "president": president,
        "presidency": (
            templates.mission_name(
                presidency.names.get(templates.language) or presidency.name,
                article=presidency.article,
            )
            if presidency
            else ""
        ),
        "list": templates.join(list(names)),
        "count": len(names),
    }
