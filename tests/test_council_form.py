"""The compilation in the form the Council issues it (issue 14), told as the reader of the
issued document sees it: the masthead of an S/ document on the first page, the symbol
and "n/N" on every later page, the President's letter in the wording of the real
letters, UN typography, one annex per statement under its mission's proper title.

Built in-process from a database and file store filed directly (tests/helpers/filed.py):
the mail that brings the statements is tests/test_compilation.py's story. The PDF is
made by LibreOffice, as `intake compile --pdf` makes it, and read back with pdftotext.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.document import Document as DocxDocument
from sqlmodel import Session, select
from typer.testing import CliRunner

from pipeline.cli.app import app as intake_app
from pipeline.compilation import (
    CompilationResult,
    CompilationTemplates,
    compile_meeting,
    default_root,
    export_pdf,
)
from pipeline.configuration import ConfigError, parse_settings
from pipeline.documents.reading import conversion_confinement
from pipeline.domain import MeetingFormat
from pipeline.settings.models import Settings
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from tests.conftest import IN_CI
from tests.helpers.filed import MEETING, Filed, file_debate

NBSP = "\u00a0"
CREATED = datetime(2021, 5, 28, 14, 0, tzinfo=UTC)
ISSUED = date(2021, 5, 28)
TEXT = (
    "Mr. President, we thank you for convening this open debate on the safety and security "
    "of peacekeepers, a matter of the highest importance for every troop- and "
    "police-contributing country. "
) * 3
# Sent in this order; the compilation lists them in English alphabetical order.
STATEMENTS = [
    Filed("PSE", "ar", "Statement of the State of Palestine", [TEXT] * 3),
    Filed("CIV", "fr", "Déclaration de la Côte d'Ivoire", [TEXT] * 4, pages=2),
    Filed("VAT", "en", "Statement of the Holy See", [TEXT] * 2),
    Filed("EUU", "en", "Statement of the European Union", [TEXT] * 2),
    Filed("FRA", "fr", "Déclaration de la France", [TEXT] * 2),
]
HEADINGS = [
    "Statement by the Permanent Mission of Côte d’Ivoire to the United Nations",
    "Statement by the Delegation of the European Union to the United Nations",
    "Statement by the Permanent Mission of France to the United Nations",
    "Statement by the Permanent Observer Mission of the Holy See to the United Nations",
    "Statement by the Permanent Observer Mission of the State of Palestine to the United Nations",
]
VIDEOCONFERENCE: dict[str, Any] = {
    "format": "videoconference",
    "procedure": "S/2020/372",
    "briefers": [
        "Jean-Pierre Lacroix, Under-Secretary-General for Peace Operations",
        "Lieutenant General Carlos dos Santos Cruz",
    ],
}


def compile_debate(
    tmp_path: Path,
    *,
    language: str = "en",
    meeting: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[CompilationResult, Settings]:
    settings, blobs = file_debate(tmp_path / "data", STATEMENTS, **(meeting or {}))
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            result = compile_meeting(
                session,
                blobs,
                "PKO-SAFETY",
                templates=CompilationTemplates.load(default_root(), language),
                out=tmp_path / f"S-2021-999-{language}.docx",
                created=CREATED,
                **{"letter_date": ISSUED, "symbol": "S/2021/999", **options},
            )
    finally:
        engine.dispose()
    return result, settings


def header_text(document: DocxDocument, which: str) -> str:
    """All the text of one of the section's headers or footers, cells included."""
    part = getattr(document.sections[0], which)
    texts = [p.text for p in part.paragraphs]
    texts += [p.text for table in part.tables for cell in table._cells for p in cell.paragraphs]
    return " | ".join(t for t in texts if t)


def letter_paragraphs(document: DocxDocument) -> list[str]:
    """The letter: the body's paragraphs before the first annex."""
    texts = []
    for paragraph in document.paragraphs:
        if paragraph.style is not None and paragraph.style.name == "Annex Label":
            break
        texts.append(paragraph.text)
    return [t for t in texts if t]


# -- the document a reader opens ------------------------------------------------------


def test_the_first_page_has_the_masthead_of_an_s_document(tmp_path: Path) -> None:
    """GIVEN the debate's five statements WHEN the desk compiles it with its symbol
    THEN the first page shows, as every S/ document does, "United Nations" and the symbol,
    "Security Council", and the distribution block with the issue date and the original
    language; the later pages show the symbol and nothing of the masthead."""
    result, _ = compile_debate(tmp_path, job_number="21-07431 (E)")

    document = docx.Document(str(result.path))
    assert document.sections[0].different_first_page_header_footer
    masthead = header_text(document, "first_page_header")
    assert masthead == (
        f"United Nations | S/2021/999 | Security Council | Distr.: General | "
        f"28{NBSP}May{NBSP}2021 | Original: English"
    )
    assert header_text(document, "first_page_footer") == "21-07431 (E)"
    assert header_text(document, "header") == "S/2021/999"  # odd pages
    assert header_text(document, "even_page_header") == "S/2021/999"
    assert "Security Council" not in header_text(document, "header")


def test_the_letter_reads_as_the_presidents_letters_for_a_videoconference(
    tmp_path: Path,
) -> None:
    """GIVEN a debate held by videoconference under the procedure of S/2020/372, with two
    briefers WHEN it is compiled THEN the letter has the title of the real letters, names
    the meeting and its day, the briefers, the delegations in English alphabetical order
    ignoring "the", the procedure, and is signed by the President."""
    result, _ = compile_debate(tmp_path, meeting=VIDEOCONFERENCE)

    title, opening, briefed, listing, procedure, closing, signed, office = letter_paragraphs(
        docx.Document(str(result.path))
    )
    assert title == (
        f"Letter dated 28{NBSP}May{NBSP}2021 from the President of the Security Council "
        "addressed to the Secretary-General and the Permanent Representatives of the "
        "members of the Security Council"
    )
    assert opening == (
        "I have the honour to enclose herewith a copy of the written statements submitted "
        "in connection with the videoconference open debate on “United Nations "
        "peacekeeping operations: improving the safety and security of peacekeepers”, "
        f"convened on Monday, 24{NBSP}May{NBSP}2021."
    )
    assert briefed == (
        "The Council heard briefings by Jean-Pierre Lacroix, Under-Secretary-General for "
        "Peace Operations; and Lieutenant General Carlos dos Santos Cruz."
    )
    assert listing.endswith(
        ": Côte d’Ivoire, the European Union, France, the Holy See and the State of Palestine."
    )
    assert procedure.startswith("In accordance with the procedure set out in the letter")
    assert "(S/2020/372)" in procedure
    assert closing.startswith("I should be grateful if the present letter and its annexes")
    assert (signed, office) == ("(Signed) Zhang Jun", "President of the Security Council")


def test_an_in_person_debate_is_never_called_a_videoconference(tmp_path: Path) -> None:
    """GIVEN a new meeting configured without a format (in person, the default), even
    with a procedure symbol WHEN compiled THEN the letter says "open debate" and neither
    videoconference nor the procedure, and there is no briefers sentence."""
    result, _ = compile_debate(tmp_path, meeting={"procedure": "S/2020/372"})

    letter = letter_paragraphs(docx.Document(str(result.path)))
    assert "in connection with the open debate on “United Nations" in letter[1]
    assert not [p for p in letter if "videoconference" in p or "S/2020/372" in p]
    assert not [p for p in letter if "briefings" in p]
    assert len(letter) == 6  # title, opening, list, closing, signature (two lines)


def test_the_annexes_follow_the_list_under_each_missions_proper_title(tmp_path: Path) -> None:
    """GIVEN statements sent in any order WHEN compiled THEN Annex I to V follow the
    letter's order, each under its mission's proper title and with its original language
    at the right, the statement's own title and text kept, the mission's own page header
    gone and the theme colour of Word's heading style replaced by the document's black."""
    result, _ = compile_debate(tmp_path)

    document = docx.Document(str(result.path))
    body = [(p.style.name if p.style is not None else "", p) for p in document.paragraphs]
    labels = [p.text for style, p in body if style == "Annex Label"]
    headings = [p.text for style, p in body if style == "Annex Heading"]
    originals = [p.text for style, p in body if style == "Original Language"]
    assert labels == ["Annex I", "Annex II", "Annex III", "Annex IV", "Annex V"]
    assert headings == HEADINGS
    assert originals == [
        "[Original: French]",
        "[Original: English]",
        "[Original: French]",
        "[Original: English]",
        "[Original: Arabic]",
    ]
    titles = [p for _, p in body if p.text == "Déclaration de la Côte d'Ivoire"]
    assert len(titles) == 1  # the statement's own title, as typed
    [title] = titles
    assert title.style is not None
    assert title.style.name == "Heading 1"
    assert title.style.font.color.rgb is None  # not Word's blue
    assert title.style.font.color.theme_color is None
    assert "CONFIDENTIAL DRAFT" not in str(
        [header_text(document, part) for part in ("header", "even_page_header")]
    )
    red = [r for _, p in body for r in p.runs if r.text == " Never again."]
    assert red
    assert all(str(r.font.color.rgb) == "C00000" for r in red)  # chosen colours stay


def test_keep_styles_leaves_a_statements_styles_as_sent(tmp_path: Path) -> None:
    """GIVEN --keep-styles WHEN compiled THEN a statement's title keeps its own heading
    style, with the theme colour Word gave it, beside the compilation's black one."""
    result, _ = compile_debate(tmp_path, keep_styles=True)

    document = docx.Document(str(result.path))
    [title] = [p for p in document.paragraphs if p.text == "Déclaration de la Côte d'Ivoire"]
    assert title.style is not None
    assert title.style.name.lower().startswith("heading 1 (")  # the statement's own, kept
    assert title.style.font.color.theme_color is not None
    assert document.styles["Heading 1"].font.color.theme_color is None


def test_the_document_is_set_in_times_new_roman_with_un_typography(tmp_path: Path) -> None:
    """WHEN compiled THEN the Normal style is Times New Roman 10 pt, and nothing Intake
    writes itself (masthead, letter, annex headings, running headers) has a straight
    apostrophe or quote; dates never break across lines."""
    result, _ = compile_debate(tmp_path, meeting=VIDEOCONFERENCE)

    document = docx.Document(str(result.path))
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman"
    assert normal.font.size is not None
    assert normal.font.size.pt == 10
    ours = [*letter_paragraphs(document)]
    ours += [
        p.text
        for p in document.paragraphs
        if p.style is not None
        and p.style.name in ("Annex Label", "Annex Heading", "Original Language")
    ]
    ours += [header_text(document, part) for part in ("first_page_header", "header")]
    assert any("Côte d’Ivoire" in text for text in ours)
    assert [text for text in ours if "'" in text or '"' in text] == []
    assert f"24{NBSP}May{NBSP}2021" in ours[1]


def test_a_french_compilation_has_the_french_masthead(tmp_path: Path) -> None:
    """GIVEN the French texts WHEN compiled with --language fr THEN the masthead reads
    "Nations Unies", "Conseil de sécurité", "Distr. générale", the French date and
    "Original : anglais" (the letter is a translation of the English one)."""
    result, _ = compile_debate(tmp_path, language="fr", meeting=VIDEOCONFERENCE)

    document = docx.Document(str(result.path))
    assert header_text(document, "first_page_header") == (
        f"Nations Unies | S/2021/999 | Conseil de sécurité | Distr. générale | "
        f"28{NBSP}mai{NBSP}2021 | Original{NBSP}: anglais"
    )
    letter = letter_paragraphs(document)
    assert letter[0].startswith(f"Lettre datée du 28{NBSP}mai{NBSP}2021")
    assert f"le lundi 24{NBSP}mai{NBSP}2021" in letter[1]
    assert "visioconférence" in letter[1]
    labels = [p.text for p in document.paragraphs if p.text.startswith("Annexe ")]
    assert labels[:2] == ["Annexe I", "Annexe II"]


def test_without_a_symbol_the_masthead_shows_a_placeholder_and_the_desk_is_warned(
    tmp_path: Path,
) -> None:
    result, _ = compile_debate(tmp_path, symbol=None, letter_date=date(2021, 5, 20))

    document = docx.Document(str(result.path))
    assert "S/____/___" in header_text(document, "first_page_header")
    assert header_text(document, "header") == "S/____/___"
    symbol, early = result.warnings
    assert symbol.startswith("no document symbol given: the masthead shows S/____/___")
    assert early == (
        "the letter is dated 20 May 2021 (the date given), before the meeting on 24 May "
        "2021: give the issue date with --date YYYY-MM-DD"
    )


# -- the PDF, as it prints ------------------------------------------------------------


@pytest.fixture(scope="module")
def pdftotext() -> str:
    binary = shutil.which("pdftotext")
    if binary is None:
        message = "pdftotext is not installed: apt-get install poppler-utils"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return binary


def test_the_printed_document_has_the_masthead_then_symbol_and_n_of_n_on_every_page(
    tmp_path: Path, soffice: str, pdftotext: str
) -> None:
    """GIVEN the compilation as a PDF WHEN a reader turns the pages THEN page 1 has the
    masthead and the letter and no page number, every later page has the symbol at its
    head and "n/N" at its foot, and the annexes come in the letter's order."""
    result, settings = compile_debate(tmp_path, meeting=VIDEOCONFERENCE, job_number="21-07431 (E)")
    confinement = conversion_confinement(settings.documents)
    pdf = export_pdf(
        result.path,
        binary=soffice,
        confinement=replace(confinement, memory_mb=2 * confinement.memory_mb),
    )

    layout = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.replace(NBSP, " ")
    pages = layout.split("\f")[:-1]
    total = len(pages)
    assert total >= 7  # the letter, five annexes, one of them two pages long
    first = [line.split() for line in pages[0].splitlines() if line.strip()]
    assert first[0] == ["United", "Nations", "S/2021/999"]
    assert first[1] == ["Security", "Council"]
    block = " ".join(" ".join(words) for words in first[2:6])
    assert "Distr.: General 28 May 2021 Original: English" in block
    flat = " ".join(pages[0].split())
    assert "Letter dated 28 May 2021 from the President of the Security Council" in flat
    assert "(Signed) Zhang Jun President of the Security Council" in flat
    assert "21-07431 (E)" in flat
    assert not re.search(r"\b1/\d+\b", flat)
    for number, page in enumerate(pages[1:], start=2):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        assert lines[0] == "S/2021/999", number
        assert f"{number}/{total}" in lines[-1].split(), (number, lines[-1])
    annexes = [re.search(r"Annex [IVX]+", page) for page in pages[1:]]
    assert [a.group(0) for a in annexes if a] == [
        "Annex I",
        "Annex II",
        "Annex III",
        "Annex IV",
        "Annex V",
    ]
    assert "Statement by the Permanent Observer Mission of the Holy See" in " ".join(layout.split())


# -- the configuration and the desk ---------------------------------------------------


def test_a_configuration_written_before_issue_14_still_says_videoconference() -> None:
    """GIVEN `meeting_format = "video-teleconference"` (the former key) THEN the meeting
    is a videoconference; "meeting" is in person; both keys at once are refused."""
    old = parse_settings(
        {"meetings": [{**MEETING, "meeting_format": "video-teleconference"}]}, environ={}
    )
    assert old.meetings[0].format is MeetingFormat.VIDEOCONFERENCE
    met = parse_settings({"meetings": [{**MEETING, "meeting_format": "meeting"}]}, environ={})
    assert met.meetings[0].format is MeetingFormat.IN_PERSON
    new = parse_settings({"meetings": [dict(MEETING)]}, environ={})
    assert new.meetings[0].format is MeetingFormat.IN_PERSON
    with pytest.raises(ConfigError, match="either format or meeting_format"):
        parse_settings(
            {"meetings": [{**MEETING, "format": "in_person", "meeting_format": "meeting"}]},
            environ={},
        )
    with pytest.raises(ConfigError, match="S/2020/372"):
        parse_settings({"meetings": [{**MEETING, "procedure": "2020/372"}]}, environ={})


def test_a_meeting_the_desk_adds_carries_what_the_letter_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN `intake meetings add` with the letter's details THEN they are stored for the
    compilation; a wrong presidency is refused in one sentence, exit 1, nothing added."""
    config = tmp_path / "intake.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n', encoding="utf-8")
    monkeypatch.setenv("INTAKE_CONFIG", str(config))
    runner = CliRunner()
    common = ["meetings", "add", "--title", "Women and peace and security"]

    added = runner.invoke(
        intake_app,
        [
            *common,
            "WPS-2021",
            "--date",
            "2021-10-21",
            "--format",
            "videoconference",
            "--president",
            "Martin Kimani",
            "--presidency",
            "KEN",
            "--briefer",
            "Sima Bahous, Executive Director of UN-Women",
            "--briefer",
            "Bineta Diop, Special Envoy of the Chairperson of the African Union Commission",
            "--procedure",
            "S/2020/372",
        ],
    )
    refused = runner.invoke(
        intake_app, [*common, "WPS-2022", "--date", "2022-10-21", "--presidency", "XX"]
    )

    assert added.exit_code == 0, added.output
    assert "meeting WPS-2021 added (videoconference)" in added.output
    engine = make_engine(
        parse_settings({"paths": {"data_dir": str(tmp_path)}}, environ={}).database_url
    )
    try:
        with Session(engine) as session:
            stored = session.exec(select(m.Meeting).where(m.Meeting.code == "WPS-2021")).one()
            refused_row = session.exec(
                select(m.Meeting).where(m.Meeting.code == "WPS-2022")
            ).first()
    finally:
        engine.dispose()
    assert stored.meeting_format is MeetingFormat.VIDEOCONFERENCE
    assert (stored.president, stored.presidency) == ("Martin Kimani", "KEN")
    assert stored.briefers == [
        "Sima Bahous, Executive Director of UN-Women",
        "Bineta Diop, Special Envoy of the Chairperson of the African Union Commission",
    ]
    assert stored.procedure == "S/2020/372"
    assert refused.exit_code == 1
    assert "intake: error: presidency: unknown mission code 'XX'" in refused.output
    assert refused_row is None


def test_the_command_refuses_a_wrong_date_or_symbol_in_one_sentence(tmp_path: Path) -> None:
    file_debate(tmp_path / "data", STATEMENTS[:1])
    config = tmp_path / "intake.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{tmp_path / "data"}"\n\n[[meetings]]\ncode = "PKO-SAFETY"\n'
        'title = "Peacekeeping"\ndate = 2021-05-24\npresident = "Zhang Jun"\n',
        "utf-8",
    )

    def intake(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", "--config", str(config), "compile", "PKO-SAFETY",
             "--out", str(tmp_path / "out.docx"), *args],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip

    wrong_date = intake("--date", "28/05/2021")
    assert wrong_date.returncode == 2
    assert wrong_date.stderr.strip() == (
        "intake: error: --date '28/05/2021' is not a date: write it as YYYY-MM-DD, "
        "e.g. --date 2021-05-28"
    )
    wrong_symbol = intake("--symbol", "S/21/999")
    assert wrong_symbol.returncode == 2
    assert "is not a Security Council document symbol" in wrong_symbol.stderr
    assert not (tmp_path / "out.docx").exists()

    done = intake("--date", "2021-05-28", "--job-number", "21-07431 (E)")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        "intake: warning: no document symbol given: the masthead shows S/____/___ (compile "
        "again with --symbol S/YYYY/NNN once the symbol is assigned)"
    )
    assert (tmp_path / "out.docx").is_file()
