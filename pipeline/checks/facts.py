"""Everything the checks need to know about one message, gathered once.

Understanding (this module and `pipeline.documents`) and judging (`pipeline.checks`) are
kept apart: a check reads facts and returns a verdict, it never parses anything itself.

Cheap facts first, files after. Who sent the message (the mission, from the run's
directory snapshot), which meeting, whether it is a duplicate: all known from the header.
Opening the files (reading a .docx, a PDF, converting a legacy file with LibreOffice) is
the expensive and exposed part, so the caller's `screen` sees those cheap facts first and
says whether the files are worth opening: the worker opens them only when the sender
checks alone would let the message through (a registered, authenticated sender; no
automatic mail). A stranger's .odt never reaches LibreOffice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from pipeline.documents.docx_reader import DocxText
from pipeline.documents.errors import DocumentError
from pipeline.documents.filetype import FileType
from pipeline.documents.reading import (
    LetterReading,
    StatementReading,
    letter_text,
    read_docx_safely,
    read_letter,
    read_statement,
)
from pipeline.documents.roles import DocumentSet, classify
from pipeline.documents.types import detect_type
from pipeline.message.parsed import ParsedMessage
from pipeline.message.routing import Routing, route
from pipeline.missions.registry import find_mission
from pipeline.settings.models import DocumentSettings
from pipeline.storage.directory import Directory, MeetingRef, MissionRef


@dataclass(frozen=True)
class Facts:
    message: ParsedMessage
    received_at: datetime
    raw_sha256: str
    mission: MissionRef | None
    routing: Routing
    documents: DocumentSet
    statement: StatementReading | None
    letter: LetterReading | None
    own_addresses: frozenset[str]
    length_limit: int | None = None
    length_tolerance: float = 0.0
    duplicate_of: int | None = None
    # False when `screen` kept the files closed: `documents` is then what names and
    # file types say, `statement` and `letter` are None, and the document checks pass.
    documents_opened: bool = True

    @property
    def meeting(self) -> MeetingRef | None:
        return self.routing.meeting


def length_limit(
    meeting: MeetingRef | None, language: str | None, settings: DocumentSettings
) -> int | None:
    """The meeting's limit in the statement's language: words, or characters for CJK."""
    if meeting is None:
        return None
    if language is not None and language in settings.word_limits:
        return settings.word_limits[language]
    if language in ("zh", "ja"):
        return round(meeting.word_limit * settings.cjk_characters_per_word)
    return meeting.word_limit


def _mission_names(mission: MissionRef | None) -> list[str]:
    if mission is None:
        return []
    info = find_mission(mission.code)
    names = [mission.name]
    if info is not None:
        names += [name for name in info.names.values() if name not in names]
    # "Bolivia (Plurinational State of)" is written "Bolivia" in running text.
    names += [n.split(" (", 1)[0] for n in list(names) if " (" in n]
    return names


def gather_facts(
    message: ParsedMessage,
    *,
    received_at: datetime,
    raw_sha256: str,
    directory: Directory,
    own_addresses: frozenset[str],
    settings: DocumentSettings,
    duplicate_of: int | None = None,
    screen: Callable[[Facts], bool] | None = None,
) -> Facts:
    """The message's facts. With `screen`, it is first given the facts known without
    opening any file (`documents_opened=False`); the files are opened only if it returns
    True, and otherwise those facts are the answer."""
    attachments = message.attachments
    types = [detect_type(a.content) for a in attachments]
    mission = directory.mission_for(message.sender)
    routing = route(message, directory.meetings)
    unopened = Facts(
        message=message,
        received_at=received_at,
        raw_sha256=raw_sha256,
        mission=mission,
        routing=routing,
        documents=classify(attachments, types=types, texts={}),
        statement=None,
        letter=None,
        own_addresses=own_addresses,
        length_limit=length_limit(routing.meeting, None, settings),
        length_tolerance=settings.length_tolerance,
        duplicate_of=duplicate_of,
        documents_opened=False,
    )
    if screen is not None and not screen(unopened):
        return unopened

    # Each readable file is opened once: its text tells a letter from a statement, and
    # then serves the statement or letter checks.
    docx_reads: dict[int, DocxText | DocumentError] = {}
    pdf_reads: dict[int, tuple[str | None, int | None] | DocumentError] = {}
    texts: dict[int, str] = {}
    for index, (attachment, kind) in enumerate(zip(attachments, types, strict=True)):
        if kind is FileType.DOCX:
            try:
                docx = read_docx_safely(attachment.content, settings)
            except DocumentError as error:
                docx_reads[index] = error
            else:
                docx_reads[index] = docx
                texts[index] = docx.text
        elif kind is FileType.PDF:
            try:
                pdf_reads[index] = letter_text(attachment.content, kind, settings)
            except DocumentError as error:
                pdf_reads[index] = error
            else:
                text = pdf_reads[index]
                if isinstance(text, tuple) and text[0]:
                    texts[index] = text[0]
    documents = classify(attachments, types=types, texts=texts)

    statement: StatementReading | None = None
    if documents.statement is not None:
        chosen = documents.statement
        statement = read_statement(
            chosen.attachment.content,
            chosen.file_type,
            settings,
            already_read=docx_reads.get(chosen.index),
        )

    letter: LetterReading | None = None
    if documents.cover_letter is not None:
        chosen = documents.cover_letter
        known: tuple[str | None, int | None] | None = None
        earlier = docx_reads.get(chosen.index) or pdf_reads.get(chosen.index)
        if isinstance(earlier, DocxText):
            known = (earlier.text, earlier.pages)
        elif isinstance(earlier, tuple):
            known = earlier
        letter = read_letter(
            chosen.attachment.content,
            chosen.file_type,
            settings,
            mission_names=_mission_names(mission),
            known_text=known,
        )

    language = statement.language if statement is not None else None
    return replace(
        unopened,
        documents=documents,
        statement=statement,
        letter=letter,
        length_limit=length_limit(routing.meeting, language, settings),
        documents_opened=True,
    )
