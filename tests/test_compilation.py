"""The compilation, told as the desk's story: a debate's statements arrive by mail through
the real pipeline (real Dovecot, real SMTP, SQLite and PostgreSQL), some are superseded
or rejected, and the desk exports one Word document -- the President's letter listing the
delegations, then one annex per accepted statement -- and, with LibreOffice, a PDF.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.document import Document as DocxDocument
from docx.oxml import parse_xml
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PdfReader
from sqlmodel import Session, select

from pipeline.compilation import (
    CompilationResult,
    CompilationTemplateError,
    CompilationTemplates,
    compile_meeting,
    default_root,
    roman_numeral,
)
from pipeline.compilation.merge import DocumentMerger
from pipeline.compilation.wordml import after
from pipeline.demo import samples
from pipeline.demo.mail import Attachment, build_email
from pipeline.demo.statements import sample_statement_text, statement_docx, statement_title
from pipeline.demo.texts import Language
from pipeline.demo.word import DOCX_CONTENT_TYPE
from pipeline.desk.actions import decide_submission
from pipeline.documents.safety import inspect_zip
from pipeline.replies.templates import load_templates
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import make_engine
from tests.conftest import IN_CI, PKO_SAFETY, SUBMISSIONS, Intake, ny
from tests.helpers.corpus import WORD, needs_corpus
from tests.helpers.office_files import STATEMENT_TEXT, OfficeFiles, billion_laughs_in_styles

ON_TIME = ny(2021, 5, 20, 10, 0)
NBSP = "\u00a0"
SUBMITTED = (
    "The following delegations and entities submitted written statements, copies of which "
    "are enclosed: "
)
CREATED = datetime(2021, 5, 28, 14, 0, tzinfo=UTC)
DOCX = DOCX_CONTENT_TYPE
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
ROOT = Path(__file__).resolve().parents[1]
TEST_OUTPUT = ROOT / "test-output" / "compilation"

SENDERS = {
    "CIV": "cotedivoire@un.int",
    "VAT": "holysee@un.int",
    "PSE": "palestine@un.int",
    "EUU": "delegation@eeas.europa.eu",
    "NLD": "netherlands@un.int",
    "TUR": "turkiye@un.int",
    "GBR": "uk@fco.gov.uk",
    "FRA": "france@un.int",
    "CHN": "china@un.int",
    "EGY": "egypt@un.int",
    "ESP": "spain@un.int",
    "RUS": "russia@un.int",
    "JPN": "japan@un.int",
}
LIST_ORDER = [
    ("CHN", "China"),
    ("CIV", "Côte d'Ivoire"),
    ("EGY", "Egypt"),
    ("EUU", "the European Union"),
    ("FRA", "France"),
    ("VAT", "the Holy See"),
    ("NLD", "the Netherlands (Kingdom of the)"),
    ("RUS", "the Russian Federation"),
    ("ESP", "Spain"),
    ("PSE", "the State of Palestine"),
    ("TUR", "Türkiye"),
    ("GBR", "the United Kingdom of Great Britain and Northern Ireland"),
]
LANGUAGES = {
    "CHN": "Chinese",
    "CIV": "French",
    "EGY": "Arabic",
    "EUU": "English",
    "FRA": "French",
    "VAT": "English",
    "NLD": "English",
    "RUS": "Russian",
    "ESP": "Spanish",
    "PSE": "Arabic",
    "TUR": "English",
    "GBR": "English",
}
SUPERSEDED_MARK = "This first version of the statement of the Netherlands was later withdrawn."
REVISED_MARK = "This revised statement of the Netherlands replaces the earlier one."
REJECTED_MARK = "Japan sent this statement without a cover letter."
PALESTINE_TEXT = [
    "بيان دولة فلسطين بشأن سلامة وأمن حفظة السلام",
    "السيد الرئيس، نشكركم على عقد هذه المناقشة المفتوحة بشأن سلامة وأمن حفظة السلام "
    "التابعين للأمم المتحدة، ونشيد بشجاعة النساء والرجال الذين يخدمون تحت العلم الأزرق.",
    "إن المساءلة عن الجرائم المرتكبة ضد حفظة السلام ليست خيارا، فالإفلات من العقاب يشجع "
    "على مزيد من العنف ويقوض مصداقية هذا المجلس.",
    "ويجب أن تحصل البعثات على الموارد والتدريب والقدرات الطبية التي تحتاج إليها، بما في "
    "ذلك إجلاء المصابين خلال الساعة الأولى.",
]


# -- what the delegations send --------------------------------------------------------------


@dataclass
class Sent:
    """A statement as a delegation sent it, and the texts its annex must show."""

    code: str
    email: bytes
    texts: list[str]
    tables: list[list[str]] = field(default_factory=list)


def attachment(name: str, content: bytes, kind: str = DOCX) -> Attachment:
    return Attachment(filename=name, content=content, content_type=kind)


def cover_letter(mission_name: str) -> Attachment:
    [letter] = samples.submission_attachments(mission_name=mission_name, statement=False)
    return letter


def email(code: str, *files: Attachment, number: int = 0) -> bytes:
    return build_email(
        sender=SENDERS[code],
        to=SUBMISSIONS,
        subject=f"PKO-SAFETY: written statement ({code})",
        attachments=files,
        message_id=f"<compilation-{code}-{number}@example.org>",
    )


def texts_of(content: bytes) -> tuple[list[str], list[list[str]]]:
    """The non-empty paragraphs and the tables' cell texts of a .docx as it was sent."""
    document = docx.Document(io.BytesIO(content))
    paragraphs = [p.text for p in document.paragraphs if p.text.strip()]
    tables = [[cell.text for row in t.rows for cell in row.cells] for t in document.tables]
    return paragraphs, tables


def from_samples(
    code: str,
    mission_name: str,
    *,
    language: Language = "en",
    lead: Sequence[str] = (),
    with_table: bool = False,
    number: int = 0,
) -> Sent:
    """A statement made like Word makes it (heading, bold/italic line, body, a table)."""
    paragraphs = [*lead, *sample_statement_text(mission_name, 320, language=language)]
    content = statement_docx(
        statement_title(mission_name, language=language),
        paragraphs,
        language=language,
        with_table=with_table,
    )
    texts, tables = texts_of(content)
    raw = email(
        code, attachment("Statement.docx", content), cover_letter(mission_name), number=number
    )
    return Sent(code, raw, texts, tables)


def from_office(
    code: str, office: OfficeFiles, language: str, form: str = "docx", name: str = ""
) -> Sent:
    """A statement saved by LibreOffice (Chinese, Arabic, Russian; a legacy .doc)."""
    content = office[(language, form)].read_bytes()
    letter = attachment(
        "Cover letter.pdf", office[(language, "letter_pdf")].read_bytes(), "application/pdf"
    )
    title, paragraphs = STATEMENT_TEXT[language]
    raw = email(code, attachment(name or f"Statement.{form}", content), letter)
    return Sent(code, raw, [title, *paragraphs])


def with_footnote(content: bytes, text: str) -> bytes:
    """python-docx cannot write footnotes: add the part as Word writes it."""
    footnotes = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{W}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
        '</w:footnote><w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r>'
        "<w:continuationSeparator/></w:r></w:p></w:footnote>"
        f'<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> '
        f"{text}</w:t></w:r></w:p></w:footnote></w:footnotes>"
    )
    relationship = (
        '<Relationship Id="rIdFootnotes1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/footnotes" Target="footnotes.xml"/>'
    )
    override = (
        '<Override PartName="/word/footnotes.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.wordprocessingml.footnotes+xml"/>'
    )
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/_rels/document.xml.rels":
                data = data.replace(
                    b"</Relationships>", relationship.encode() + b"</Relationships>"
                )
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            target.writestr(info.filename, data)
        target.writestr("word/footnotes.xml", footnotes)
    return out.getvalue()


UK_FOOTNOTE = "See Security Council resolution 2518 (2020)."


def rich_statement() -> bytes:
    """The United Kingdom's statement: formatted runs, two kinds of list, a table, a note."""
    document = docx.Document()
    document.add_heading("Statement by the United Kingdom on the safety of peacekeepers", 1)
    intro = document.add_paragraph("The United Kingdom ")
    intro.add_run("strongly condemns").bold = True
    intro.add_run(" every attack on ")
    intro.add_run("peacekeepers").italic = True
    intro.add_run(" and ")
    intro.add_run("demands accountability").underline = True
    intro.add_run(", as the 1")
    intro.add_run("st").font.superscript = True
    intro.add_run(" resolution on the subject and the H")
    intro.add_run("2").font.subscript = True
    intro.add_run("O supply chain report make clear.")
    intro._p.append(parse_xml(f'<w:r xmlns:w="{W}"><w:footnoteReference w:id="1"/></w:r>'))
    for item in ("Casualty evacuation within the first hour.", "Training for every unit."):
        document.add_paragraph(item, style="List Bullet")
    for item in ("Better intelligence.", "Accountability for attacks."):
        document.add_paragraph(item, style="List Number")
    table = document.add_table(rows=2, cols=2)
    table.style = "Table Grid"
    for (row, column), text in zip(
        [(0, 0), (0, 1), (1, 0), (1, 1)], ["Mission", "Fatalities", "MINUSMA", "28"], strict=True
    ):
        table.cell(row, column).text = text
    table.cell(0, 0).paragraphs[0].runs[0].bold = True
    for text in sample_statement_text("United Kingdom", 300):
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return with_footnote(buffer.getvalue(), UK_FOOTNOTE)


def palestine_statement() -> bytes:
    """Arabic, right to left through the Normal style, as some Arabic templates do it."""
    document = docx.Document()
    properties = document.styles["Normal"].element.get_or_add_pPr()
    properties.insert_element_before(parse_xml(f'<w:bidi xmlns:w="{W}"/>'), *after("w:bidi"))
    for text in PALESTINE_TEXT:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def configure(intake: Intake, *, president: bool = True) -> None:
    meeting: dict[str, Any] = dict(PKO_SAFETY)
    if president:
        meeting.update(president="Zhang Jun", presidency="CHN")
    intake.reconfigure(
        meetings=[meeting],
        missions={code: {"senders": [address]} for code, address in SENDERS.items()},
    )


def file_the_debate(intake: Intake, office: OfficeFiles) -> dict[str, Sent]:
    """Thirteen delegations write in; Japan forgets its cover letter; the Netherlands
    sends a revised statement that replaces its first."""
    configure(intake)
    first_dutch = from_samples("NLD", "Netherlands", lead=[SUPERSEDED_MARK], number=1)
    intake.deliver(first_dutch.email, at=ny(2021, 5, 19, 9, 0))
    intake.run()

    uk = rich_statement()
    uk_texts, uk_tables = texts_of(uk)
    palestine = palestine_statement()
    sent = [
        from_samples("CIV", "Côte d'Ivoire", language="fr"),
        from_samples("VAT", "Holy See"),
        from_samples("EUU", "European Union", with_table=True),
        from_samples("NLD", "Netherlands", lead=[REVISED_MARK], number=2),
        from_samples("TUR", "Türkiye"),
        from_samples("FRA", "France", language="fr"),
        from_office("CHN", office, "zh"),
        from_office("EGY", office, "ar"),
        from_office("ESP", office, "es", "doc", name="Declaración.doc"),
        from_office("RUS", office, "ru"),
        Sent(
            "GBR",
            email("GBR", attachment("UK statement.docx", uk), cover_letter("United Kingdom")),
            uk_texts,
            uk_tables,
        ),
        Sent(
            "PSE",
            email("PSE", attachment("Statement.docx", palestine), cover_letter("Palestine")),
            PALESTINE_TEXT,
        ),
    ]
    japan = statement_docx("Statement by Japan", [REJECTED_MARK, "Thank you."])
    for item in sent:
        intake.deliver(item.email, at=ON_TIME)
    intake.deliver(email("JPN", attachment("Statement.docx", japan)), at=ON_TIME)
    intake.run()

    statuses = {(row.mission, row.status) for row in intake.queue()}
    assert statuses == {
        ("NLD", "superseded"),
        ("JPN", "rejected"),
        *((code, "accepted") for code, _ in LIST_ORDER),
    }, statuses
    return {item.code: item for item in sent}


# -- reading the compilation back --------------------------------------------------------------


@dataclass
class AnnexView:
    label: str
    heading: str = ""
    original: str | None = None
    paragraphs: list[Paragraph] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.paragraphs if p.text.strip()]


@dataclass
class CompilationView:
    document: DocxDocument
    letter: list[str]
    annexes: list[AnnexView]
    parts: dict[str, bytes]

    def annex(self, heading_part: str) -> AnnexView:
        [found] = [a for a in self.annexes if heading_part in a.heading]
        return found

    @property
    def all_text(self) -> str:
        return "\n".join([*self.letter, *(t for a in self.annexes for t in [a.heading, *a.texts])])


def read_back(path: Path) -> CompilationView:
    document = docx.Document(str(path))
    letter: list[str] = []
    annexes: list[AnnexView] = []
    for child in document.element.body.iterchildren():
        if child.tag == qn("w:tbl"):
            annexes[-1].tables.append(Table(child, document))
            continue
        if child.tag != qn("w:p"):
            continue
        paragraph = Paragraph(child, document)
        style = paragraph.style.name if paragraph.style is not None else ""
        if style == "Annex Label":
            assert paragraph.paragraph_format.page_break_before is True
            annexes.append(AnnexView(paragraph.text))
        elif not annexes:
            letter.append(paragraph.text)
        elif style == "Annex Heading":
            annexes[-1].heading = paragraph.text
        elif style == "Original Language":
            annexes[-1].original = paragraph.text
        else:
            annexes[-1].paragraphs.append(paragraph)
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    return CompilationView(document, letter, annexes, parts)


def compile_now(
    intake: Intake, out: Path, *, language: str = "en", created: datetime = CREATED
) -> CompilationResult:
    engine = make_engine(intake.settings.database_url)
    try:
        with Session(engine) as session:
            return compile_meeting(
                session,
                BlobStore(intake.settings.storage_path),
                "PKO-SAFETY",
                templates=CompilationTemplates.load(default_root(), language),
                out=out,
                created=created,
                symbol="S/2021/999",
            )
    finally:
        engine.dispose()


def in_order(expected: Sequence[str], actual: Sequence[str]) -> bool:
    """Whether `expected` appears in `actual` in the same order (others may be between)."""
    remaining = iter(actual)
    return all(any(text == candidate for candidate in remaining) for text in expected)


def run_formats(paragraphs: Sequence[Paragraph]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for paragraph in paragraphs:
        for run in paragraph.runs:
            for name, on in (
                ("bold", run.bold),
                ("italic", run.italic),
                ("underline", run.underline),
                ("superscript", run.font.superscript),
                ("subscript", run.font.subscript),
            ):
                if on:
                    found.setdefault(name, set()).add(run.text)
    return found


# -- the story ----------------------------------------------------------------------------------


def test_the_desk_compiles_the_debate_in_un_order_with_one_annex_per_current_statement(
    intake: Intake, office_files: OfficeFiles, tmp_path: Path
) -> None:
    """GIVEN thirteen delegations, one of which sent twice and one without a cover letter
    WHEN the desk compiles the debate THEN the letter lists the twelve accepted ones in
    English alphabetical order ignoring "the", and each annex holds exactly the statement
    that was sent, with its heading by kind and its original language."""
    sent = file_the_debate(intake, office_files)

    result = compile_now(intake, tmp_path / "compilation.docx")

    view = read_back(result.path)
    title, opening, listing, closing, signed, office = view.letter
    assert title == (
        f"Letter dated 28{NBSP}May{NBSP}2021 from the President of the Security Council "
        "addressed to the Secretary-General and the Permanent Representatives of the members "
        "of the Security Council"
    )
    assert opening == (
        "I have the honour to enclose herewith a copy of the written statements submitted in "
        "connection with the open debate on “United Nations peacekeeping operations: "
        "improving the safety and security of peacekeepers”, convened on Monday, "
        f"24{NBSP}May{NBSP}2021."
    )  # an in-person meeting (the default): no "videoconference", no procedure
    assert listing == (
        "The following delegations and entities submitted written statements, copies of "
        "which are enclosed: China, Côte d’Ivoire, Egypt, the European Union, France, the "
        "Holy See, the Netherlands (Kingdom of the), the Russian Federation, Spain, the State "
        "of Palestine, Türkiye and the United Kingdom of Great Britain and Northern Ireland."
    )
    assert closing.startswith("I should be grateful if the present letter and its annexes")
    assert (signed, office) == ("(Signed) Zhang Jun", "President of the Security Council")

    numerals = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
    assert [a.label for a in view.annexes] == [f"Annex {n}" for n in numerals]
    accepted = {row.mission: row.reference for row in intake.queue() if row.status == "accepted"}
    languages = {s.reference: s.statement_language for s in intake.rows(m.Submission)}
    assert list(result.annexes) == [
        (numeral, code, name, languages[accepted[code]], accepted[code])
        for numeral, (code, name) in zip(numerals, LIST_ORDER, strict=True)
    ]
    assert result.statements == 12
    assert result.warnings == ()

    headings = [a.heading for a in view.annexes]
    assert headings[5] == (
        "Statement by the Permanent Observer Mission of the Holy See to the United Nations"
    )
    assert headings[9] == (
        "Statement by the Permanent Observer Mission of the State of Palestine to the "
        "United Nations"
    )
    assert headings[3] == "Statement by the Delegation of the European Union to the United Nations"
    assert headings[6] == (
        "Statement by the Permanent Mission of the Netherlands (Kingdom of the) to the "
        "United Nations"
    )
    assert (
        headings[1] == "Statement by the Permanent Mission of Côte d’Ivoire to the United Nations"
    )
    assert [a.original for a in view.annexes] == [
        f"[Original: {LANGUAGES[code]}]" for code, _ in LIST_ORDER
    ]

    # Every annex holds its own statement, as sent, and no other's.
    own = {
        code: {
            t for t in item.texts if all(t not in o.texts for o in sent.values() if o is not item)
        }
        for code, item in sent.items()
    }
    for annex, (code, _name) in zip(view.annexes, LIST_ORDER, strict=True):
        assert in_order(sent[code].texts, annex.texts), (code, sent[code].texts, annex.texts)
        for other, texts in own.items():
            if other != code:
                assert not texts & set(annex.texts), (code, other)
    text = view.all_text
    assert REVISED_MARK in text
    assert SUPERSEDED_MARK not in text
    assert REJECTED_MARK not in text
    assert "Japan" not in listing

    # Formatting, lists, tables and notes survive.
    uk = view.annexes[11]
    formats = run_formats(uk.paragraphs)
    assert "strongly condemns" in formats["bold"]
    assert "peacekeepers" in formats["italic"]
    assert "demands accountability" in formats["underline"]
    assert "st" in formats["superscript"]
    assert "2" in formats["subscript"]
    listed = [
        p for p in uk.paragraphs if p.text in ("Training for every unit.", "Better intelligence.")
    ]
    assert len(listed) == 2
    numbering = view.parts["word/numbering.xml"].decode()
    for paragraph in listed:
        [num_id] = paragraph._p.xpath("./w:pPr/w:numPr/w:numId/@w:val")
        assert f'w:numId="{num_id}"' in numbering
    [uk_table] = uk.tables
    assert [c.text for r in uk_table.rows for c in r.cells] == sent["GBR"].tables[0]
    assert uk_table.style is not None
    assert uk_table.style.name == "Table Grid"
    assert uk_table.cell(0, 0).paragraphs[0].runs[0].bold is True
    assert UK_FOOTNOTE in view.parts["word/footnotes.xml"].decode()
    references = [r for p in uk.paragraphs for r in p._p.iter(qn("w:footnoteReference"))]
    assert [r.get(qn("w:id")) for r in references] == ["1"]

    eu = view.annexes[3]
    assert [[c.text for r in t.rows for c in r.cells] for t in eu.tables] == sent["EUU"].tables
    assert "bold" in run_formats(eu.paragraphs)

    # Arabic stays right to left, whether the paragraph or its style said so.
    for annex in (view.annexes[2], view.annexes[9]):
        for paragraph in annex.paragraphs:
            assert paragraph._p.pPr is not None
            assert paragraph._p.pPr.find(qn("w:bidi")) is not None, annex.heading

    # The same debate in French: the texts come from config/compilation/fr.
    french = read_back(compile_now(intake, tmp_path / "compilation-fr.docx", language="fr").path)
    assert french.annexes[0].label == "Annexe I"
    assert french.letter[0].startswith(f"Lettre datée du 28{NBSP}mai{NBSP}2021")
    assert f"[Original{NBSP}: chinois]" in [a.original for a in french.annexes]
    assert " et " in french.letter[2]


def test_the_same_debate_compiles_to_the_same_bytes_and_follows_desk_decisions(
    intake: Intake, tmp_path: Path
) -> None:
    """GIVEN a compiled debate WHEN it is compiled again THEN the bytes are the same (the
    creation time is the only time in the file); WHEN the desk rejects a statement or
    accepts a superseded one THEN the next compilation follows."""
    configure(intake)
    first_dutch = from_samples("NLD", "Netherlands", lead=[SUPERSEDED_MARK], number=1)
    intake.deliver(first_dutch.email, at=ny(2021, 5, 19, 9, 0))
    intake.run()
    for item in (
        from_samples("FRA", "France", language="fr"),
        from_samples("VAT", "Holy See"),
        from_samples("NLD", "Netherlands", lead=[REVISED_MARK], number=2),
    ):
        intake.deliver(item.email, at=ON_TIME)
    intake.run()

    one = compile_now(intake, tmp_path / "one.docx").path.read_bytes()
    two = compile_now(intake, tmp_path / "two.docx").path.read_bytes()
    assert one == two
    later = compile_now(intake, tmp_path / "later.docx", created=CREATED + timedelta(hours=1))
    with zipfile.ZipFile(io.BytesIO(one)) as a, zipfile.ZipFile(later.path) as b:
        assert a.namelist() == b.namelist()
        differ = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert differ == ["docProps/core.xml"]
    assert read_back(tmp_path / "one.docx").letter[2] == (
        f"{SUBMITTED}France, the Holy See and the Netherlands (Kingdom of the)."
    )

    references = {
        row.mission: row.reference for row in intake.queue() if row.status != "superseded"
    }
    superseded = next(row.reference for row in intake.queue() if row.status == "superseded")
    engine = make_engine(intake.settings.database_url)
    templates = load_templates(intake.settings)
    try:
        decide_submission(
            engine,
            intake.settings,
            templates,
            reference=references["VAT"],
            status=m.SubmissionStatus.REJECTED,
            reason="Signed by another delegation",
            actor="desk",
            notify=False,
        )
        rejected = read_back(compile_now(intake, tmp_path / "rejected.docx").path)
        assert rejected.letter[2] == (f"{SUBMITTED}France and the Netherlands (Kingdom of the).")
        assert [a.label for a in rejected.annexes] == ["Annex I", "Annex II"]

        decide_submission(
            engine,
            intake.settings,
            templates,
            reference=superseded,
            status=m.SubmissionStatus.ACCEPTED,
            reason="The delegation asked to keep its first text",
            actor="desk",
            notify=False,
        )
    finally:
        engine.dispose()
    restored = read_back(compile_now(intake, tmp_path / "restored.docx").path)
    dutch = restored.annex("Netherlands")
    assert SUPERSEDED_MARK in dutch.texts
    assert REVISED_MARK not in restored.all_text


def test_one_hostile_statement_file_is_left_out_and_named_and_the_others_are_compiled(
    intake: Intake, tmp_path: Path
) -> None:
    """GIVEN three accepted statements, one of whose stored file is a .docx with a
    billion-laughs DTD in its styles (intake refuses such a file now; this one is put in
    the store behind its back, the way only a fault or an older version could) WHEN the
    desk compiles THEN the other two are compiled, and the desk is told which one is
    missing and why, by the function and by `intake compile`."""
    configure(intake)
    for item in (
        from_samples("FRA", "France", language="fr"),
        from_samples("VAT", "Holy See"),
        from_samples("NLD", "Netherlands"),
    ):
        intake.deliver(item.email, at=ON_TIME)
    intake.run()
    references = {row.mission: row.reference for row in intake.queue()}
    assert {row.status for row in intake.queue()} == {"accepted"}
    store = BlobStore(intake.settings.storage_path)
    engine = make_engine(intake.settings.database_url)
    try:
        with Session(engine) as session:
            submission = session.exec(
                select(m.Submission).where(m.Submission.reference == references["VAT"])
            ).one()
            [document] = session.exec(
                select(m.Document).where(
                    m.Document.submission_id == submission.id,
                    m.Document.role == m.DocumentRole.STATEMENT,
                )
            ).all()
            document.sha256 = store.put(billion_laughs_in_styles(store.get(document.sha256)))
            session.add(document)
            session.commit()
    finally:
        engine.dispose()

    result = compile_now(intake, tmp_path / "compilation.docx")

    assert result.statements == 2
    assert [annex.mission_code for annex in result.annexes] == ["FRA", "NLD"]
    view = read_back(result.path)
    assert view.letter[2] == (f"{SUBMITTED}France and the Netherlands (Kingdom of the).")
    [warning] = result.warnings
    assert warning.startswith(f"{references['VAT']} (VAT): left out of the compilation")
    assert "it contains XML entity declarations" in warning

    command = intake_compile(
        intake.write_config(), "PKO-SAFETY", "--out", str(tmp_path / "command.docx")
    )
    assert command.returncode == 0, command.stderr
    assert "2 statement(s) compiled" in command.stdout
    assert f"intake: warning: {references['VAT']} (VAT): left out" in command.stderr


# -- the command line -------------------------------------------------------------------------


def intake_compile(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`intake --config CONFIG compile ARGS`, the real command in a subprocess."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(config), "compile", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
        cwd=ROOT,
    )


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.slow
def test_compile_command_says_what_is_wrong_in_one_line_with_its_exit_code(
    intake: Intake, tmp_path: Path
) -> None:
    configure(intake, president=False)
    config = intake.write_config()
    out = tmp_path / "out" / "PKO-SAFETY.docx"
    out.parent.mkdir()

    nothing = intake_compile(config, "PKO-SAFETY", "--out", str(out))
    assert nothing.returncode == 1
    assert "PKO-SAFETY has no accepted statement yet" in one_line(nothing.stderr)

    unknown = intake_compile(config, "PKO-SECURITY", "--out", str(out))
    assert unknown.returncode == 2
    assert "no meeting with the code 'PKO-SECURITY' (known: PKO-SAFETY)" in one_line(unknown.stderr)

    no_folder = intake_compile(config, "PKO-SAFETY", "--out", str(tmp_path / "nowhere" / "x.docx"))
    assert no_folder.returncode == 2
    assert "does not exist" in one_line(no_folder.stderr)

    not_word = intake_compile(config, "PKO-SAFETY", "--out", str(tmp_path / "out" / "x.pdf"))
    assert not_word.returncode == 2
    assert "--out must name a .docx file" in one_line(not_word.stderr)

    intake.deliver(from_samples("FRA", "France", language="fr").email, at=ON_TIME)
    intake.run()
    done = intake_compile(config, "pko-safety", "--out", str(out), "--symbol", "S/2021/999")
    assert done.returncode == 0, done.stderr
    assert f"1 statement(s) compiled into {out}" in done.stdout
    # No president configured: the letter shows a placeholder and the desk is told.
    assert "has no president configured" in one_line(done.stderr)
    assert "(Signed) [name of the President]" in read_back(out).letter

    [statement] = [d for d in intake.rows(m.Document) if d.role is m.DocumentRole.STATEMENT]
    stored = BlobStore(intake.settings.storage_path).path_for(statement.sha256)
    kept = stored.read_bytes()
    stored.unlink()
    missing = intake_compile(config, "PKO-SAFETY", "--out", str(out))
    assert missing.returncode == 1
    assert "is missing from the file store" in one_line(missing.stderr)
    stored.write_bytes(kept)

    without_office = intake.write_config(documents={"libreoffice": "/nonexistent/soffice"})
    out.unlink()
    no_pdf = intake_compile(without_office, "PKO-SAFETY", "--out", str(out), "--pdf")
    assert no_pdf.returncode == 1
    last = [line for line in no_pdf.stderr.splitlines() if line.startswith("intake: error")]
    assert len(last) == 1
    assert "LibreOffice (soffice) is not available, so no PDF was made" in last[0]
    assert out.is_file()
    assert not out.with_suffix(".pdf").exists()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="session")
def pdftoppm() -> str:
    binary = shutil.which("pdftoppm")
    if binary is None:
        message = "pdftoppm is not installed: apt-get install poppler-utils"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return binary


def test_the_compilation_is_also_written_as_a_pdf_whose_first_page_is_the_letter(
    intake: Intake,
    office_files: OfficeFiles,
    pdftoppm: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    configure(intake)
    intake.deliver(from_samples("FRA", "France", language="fr").email, at=ON_TIME)
    intake.deliver(from_office("CHN", office_files, "zh").email, at=ON_TIME)
    intake.run()
    out = tmp_path / "PKO-SAFETY.docx"

    result = intake_compile(intake.write_config(), "PKO-SAFETY", "--out", str(out), "--pdf")

    assert result.returncode == 0, result.stderr
    pdf = out.with_suffix(".pdf")
    assert f"PDF written to {pdf}" in result.stdout
    pages = PdfReader(pdf).pages
    assert len(pages) >= 3  # the letter, then an annex per statement on its own page
    first = " ".join((pages[0].extract_text() or "").split())
    assert "Letter dated" in first
    assert "(Signed) Zhang Jun" in first
    assert "Annex I" in " ".join((pages[1].extract_text() or "").split())

    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    prefix = TEST_OUTPUT / f"first-page-{request.node.callspec.id}"
    subprocess.run(
        [pdftoppm, "-png", "-f", "1", "-l", "1", "-r", "50", "-singlefile", str(pdf), str(prefix)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    png = prefix.with_suffix(".png")
    assert png.is_file()
    width, height = _png_size(png)
    assert 350 < width < 500  # A4 or Letter at 50 dpi: about 413-425 pixels wide
    assert 500 < height < 650


# -- the pieces ---------------------------------------------------------------------------------


def test_annexes_are_numbered_in_roman_numerals() -> None:
    assert [roman_numeral(n) for n in (1, 2, 3, 4, 9, 12, 14, 40, 49, 90, 199)] == [
        "I", "II", "III", "IV", "IX", "XII", "XIV", "XL", "XLIX", "XC", "CXCIX",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        roman_numeral(0)


def test_the_texts_join_lists_and_write_dates_in_their_language() -> None:
    english = CompilationTemplates.load(default_root())
    assert english.join(["A"]) == "A"
    assert english.join(["A", "B"]) == "A and B"
    assert english.join(["A", "B", "C"]) == "A, B and C"
    assert english.format_date(date(2021, 5, 24)) == f"24{NBSP}May{NBSP}2021"  # never broken
    assert english.format_day(date(2021, 5, 24)) == f"Monday, 24{NBSP}May{NBSP}2021"
    briefers = ["Jean-Pierre Lacroix, Under-Secretary-General", "Carlos dos Santos Cruz"]
    assert english.join(briefers, titled=True) == (
        "Jean-Pierre Lacroix, Under-Secretary-General; and Carlos dos Santos Cruz"
    )
    assert english.mission_name("Holy See", article=True) == "the Holy See"
    french = CompilationTemplates.load(default_root(), "fr")
    assert french.join(["A", "B", "C"]) == "A, B et C"
    assert french.format_date(date(2021, 5, 1)) == f"1er{NBSP}mai{NBSP}2021"
    assert french.format_day(date(2021, 5, 24)) == f"lundi 24{NBSP}mai{NBSP}2021"
    assert french.mission_name("Saint-Siège", article=True) == "Saint-Siège"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("copies of which are enclosed: {{ list }}.", "By {{ lst }}."), "letter.list"),
        (('in_person = "open debate"\n', ""), "format.in_person"),
        (('organization = "', 'organisation = "'), "annex.heading.organization"),
        (('fr = "French"', 'french = "French"'), "languages.fr"),
        (('label = "Annex {{ numeral }}"', 'label = "Annex {{ numeral "'), "annex.label"),
    ],
)
def test_a_broken_text_is_refused_when_loaded_with_the_file_and_key(
    tmp_path: Path, change: tuple[str, str], problem: str
) -> None:
    (tmp_path / "en").mkdir()
    text = (default_root() / "en" / "letter.toml").read_text("utf-8")
    assert change[0] in text
    (tmp_path / "en" / "letter.toml").write_text(text.replace(*change), "utf-8")
    with pytest.raises(CompilationTemplateError, match=problem.replace(".", r"\.")):
        CompilationTemplates.load(tmp_path)
    with pytest.raises(CompilationTemplateError, match="does not exist"):
        CompilationTemplates.load(tmp_path, "ru")


def _docx_with_body(body_xml: str, *, picture: bool = False) -> bytes:
    document = docx.Document()
    if picture:
        document.add_picture(io.BytesIO(_tiny_png()))
    wrapper = parse_xml(
        f'<w:body xmlns:w="{W}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
        f"{body_xml}</w:body>"
    )
    for element in list(wrapper):
        document.element.body.sectPr.addprevious(element)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\x00\xff" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _merged(*statements: bytes) -> tuple[DocxDocument, list[Any]]:
    target = docx.Document()
    merger = DocumentMerger(target)
    reports = [merger.append(content) for content in statements]
    merger.finish()
    buffer = io.BytesIO()
    target.save(buffer)
    return docx.Document(io.BytesIO(buffer.getvalue())), reports


def test_tracked_changes_are_accepted_and_what_cannot_be_copied_is_reported() -> None:
    """Insertions stay, deletions go, comments and text boxes are dropped and counted;
    a picture comes along."""
    content = _docx_with_body(
        '<w:p><w:r><w:t xml:space="preserve">Peacekeepers </w:t></w:r>'
        '<w:ins w:id="1" w:author="A"><w:r><w:t xml:space="preserve">deserve </w:t></w:r></w:ins>'
        '<w:del w:id="2" w:author="A"><w:r><w:delText>never need </w:delText></w:r></w:del>'
        '<w:commentRangeStart w:id="3"/><w:r><w:t>protection.</w:t></w:r>'
        '<w:commentRangeEnd w:id="3"/><w:r><w:commentReference w:id="3"/></w:r></w:p>'
        '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"/><mc:Fallback/>'
        "</mc:AlternateContent></w:r><w:r><w:t>After the box.</w:t></w:r></w:p>"
        "<w:sdt><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Inside a control.</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>",
        picture=True,
    )

    merged, [report, again] = _merged(content, content)

    texts = [p.text for p in merged.paragraphs]
    assert texts.count("Peacekeepers deserve protection.") == 2
    assert texts.count("After the box.") == 2
    assert texts.count("Inside a control.") == 2
    assert "never need" not in "".join(texts)
    assert report.dropped == {
        "tracked deletions (accepted)": 1,
        "comments": 1,
        "text boxes, shapes or charts": 1,
    }
    assert report.pictures == 1
    assert again == report
    pictures = merged.inline_shapes
    assert len(pictures) == 2
    ids = [p._inline.docPr.id for p in pictures]
    assert sorted(ids) == [1, 2]
    for picture in pictures:
        rid = picture._inline.graphic.graphicData.pic.blipFill.blip.embed
        assert merged.part.related_parts[rid].blob == _tiny_png()


@needs_corpus
def test_every_word_file_of_the_shared_corpus_can_be_compiled() -> None:
    """Word files nobody here wrote (Apache POI's test files: pictures, text boxes,
    comments, tracked changes, equations, odd numbering) all copy without an error, and
    the result opens again with every picture id unique."""
    statements = []
    for path in sorted(WORD.glob("*.docx")):
        content = path.read_bytes()
        try:
            inspect_zip(content)
            docx.Document(io.BytesIO(content))
        except Exception:  # files the pipeline refuses never reach the compilation
            continue
        statements.append(content)
    assert len(statements) > 50

    merged, reports = _merged(*statements)

    assert sum(report.paragraphs for report in reports) > 1000
    assert sum(report.pictures for report in reports) > 10
    ids = [shape._inline.docPr.id for shape in merged.inline_shapes]
    assert len(ids) == len(set(ids))
