"""Everything the checks need to know about one message, gathered once.

Understanding (this module) and judging (`pipeline.checks`) are kept apart: a check reads
facts and returns a verdict, it never parses or queries anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.documents.roles import DocumentSet, classify
from pipeline.documents.types import FileType, detect_type
from pipeline.message.parse import ParsedMessage
from pipeline.message.routing import Routing, route
from pipeline.message.word import UnreadableDocument, WordText, read_word
from pipeline.storage.directory import Directory, MeetingRef, MissionRef


@dataclass(frozen=True)
class StatementReading:
    text: WordText | None
    error: str | None


@dataclass(frozen=True)
class Facts:
    message: ParsedMessage
    received_at: datetime
    raw_sha256: str
    mission: MissionRef | None
    routing: Routing
    documents: DocumentSet
    statement: StatementReading | None
    own_addresses: frozenset[str]
    duplicate_of: int | None = None

    @property
    def meeting(self) -> MeetingRef | None:
        return self.routing.meeting


def _read(content: bytes) -> StatementReading:
    try:
        return StatementReading(text=read_word(content), error=None)
    except UnreadableDocument as error:
        return StatementReading(text=None, error=str(error))


def gather_facts(
    message: ParsedMessage,
    *,
    received_at: datetime,
    raw_sha256: str,
    directory: Directory,
    own_addresses: frozenset[str],
    duplicate_of: int | None = None,
) -> Facts:
    # Word files are read once: their text both tells a letter from a statement and
    # gives the statement's length.
    readings: dict[int, StatementReading] = {}
    for index, attachment in enumerate(message.attachments):
        if detect_type(attachment.content) is FileType.DOCX:
            readings[index] = _read(attachment.content)
    texts = {i: r.text.text for i, r in readings.items() if r.text is not None}
    documents = classify(message.attachments, word_text=texts)

    statement: StatementReading | None = None
    if documents.statement is not None and documents.statement.file_type is FileType.DOCX:
        position = message.attachments.index(documents.statement.attachment)
        statement = readings.get(position) or _read(documents.statement.attachment.content)

    return Facts(
        message=message,
        received_at=received_at,
        raw_sha256=raw_sha256,
        mission=directory.mission_for(message.sender),
        routing=route(message, directory.meetings),
        documents=documents,
        statement=statement,
        own_addresses=own_addresses,
        duplicate_of=duplicate_of,
    )
