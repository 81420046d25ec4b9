"""Reading a Word statement safely: its text, title, pages, length and language, and the
hostile files (bombs, lying archives, entity expansion, damage) that must be refused.

Most documents here are built part by part from raw WordprocessingML, so that each test
shows exactly the markup it is about; a few are made by python-docx, as a delegation's
tools would. The memory bound of the bomb tests is measured in a child process
(VmHWM), where the pytest process's own history cannot hide or inflate it.
"""

from __future__ import annotations

import base64
import io
import os
import random
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import docx
import pytest

from pipeline.documents import langid_model
from pipeline.documents.docx_reader import DocxText, read_docx
from pipeline.documents.errors import DocumentError, UnreadableDocument, UnsafeDocument
from pipeline.documents.filetype import FileType
from pipeline.documents.language import LANGUAGE_NAMES, OFFICIAL_LANGUAGES, detect_language
from pipeline.documents.length import Length, measure_text
from pipeline.documents.safety import CHUNK_SIZE, MIB, ZipLimits, inspect_zip, read_member
from pipeline.documents.types import OLE2_MAGIC, detect_type
from pipeline.documents.xml_safety import DtdGuard, parse_xml
from tests.helpers.corpus import WORD as POI

REPO = Path(__file__).resolve().parents[1]
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
WPS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
V = "urn:schemas-microsoft-com:vml"
NAMESPACES = f'xmlns:w="{W}" xmlns:mc="{MC}" xmlns:wps="{WPS}" xmlns:v="{V}"'
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
MACRO_MAIN_TYPE = "application/vnd.ms-word.document.macroEnabled.main+xml"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


# ------------------------------------------------------------------------ building files


def content_types(main_type: str = MAIN_TYPE) -> str:
    return (
        XML_DECLARATION
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{main_type}"/></Types>'
    )


ROOT_RELS = (
    XML_DECLARATION
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)
DOCUMENT_RELS = (
    XML_DECLARATION
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    + "".join(
        f'<Relationship Id="rId{n}" Type="{REL}/{kind}" Target="{kind}{suffix}.xml"/>'
        for n, (kind, suffix) in enumerate(
            [("header", "1"), ("footer", "1"), ("footnotes", ""), ("endnotes", ""), ("styles", "")],
            start=1,
        )
    )
    + "</Relationships>"
)


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def para(text: str = "", *, style: str | None = None, runs: str | None = None) -> str:
    properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{properties}{runs if runs is not None else run(text)}</w:p>"


def document_xml(body: str) -> str:
    return f"{XML_DECLARATION}<w:document {NAMESPACES}><w:body>{body}</w:body></w:document>"


def notes_xml(kind: str, texts: list[str]) -> str:
    """footnotes.xml or endnotes.xml with Word's two separator notes first."""
    separators = (
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r>'
        f"<w:continuationSeparator/></w:r></w:p></w:{kind}>"
    )
    notes = "".join(
        f'<w:{kind} w:id="{n}"><w:p><w:r><w:{kind}Ref/></w:r>{run(" " + text)}</w:p></w:{kind}>'
        for n, text in enumerate(texts, start=1)
    )
    return f"{XML_DECLARATION}<w:{kind}s {NAMESPACES}>{separators}{notes}</w:{kind}s>"


def header_xml(kind: str, text: str) -> str:
    return f"{XML_DECLARATION}<w:{kind} {NAMESPACES}>{para(text)}</w:{kind}>"


def styles_xml(styles: dict[str, str]) -> str:
    """styles.xml mapping style ids to names, as localized Word writes it."""
    defined = "".join(
        f'<w:style w:type="paragraph" w:styleId="{style_id}"><w:name w:val="{name}"/></w:style>'
        for style_id, name in styles.items()
    )
    return f"{XML_DECLARATION}<w:styles {NAMESPACES}>{defined}</w:styles>"


def app_xml(pages: str) -> str:
    return (
        XML_DECLARATION
        + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'extended-properties"><Pages>{pages}</Pages><Words>500</Words></Properties>'
    )


def zip_bytes(members: dict[str, str | bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def package(
    body: str,
    *,
    parts: dict[str, str | bytes] | None = None,
    main_type: str = MAIN_TYPE,
    document: str | bytes | None = None,
) -> bytes:
    """A .docx made of the given body (or whole document.xml) and extra parts."""
    members: dict[str, str | bytes] = {
        "[Content_Types].xml": content_types(main_type),
        "_rels/.rels": ROOT_RELS,
        "word/document.xml": document if document is not None else document_xml(body),
        "word/_rels/document.xml.rels": DOCUMENT_RELS,
    }
    members.update(parts or {})
    return zip_bytes(members)


def python_docx_statement() -> bytes:
    """A statement as python-docx writes it: title, letterhead, table, page footer."""
    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "Permanent Mission of Ruritania to the United Nations"
    section.footer.paragraphs[0].text = "Check against delivery"
    document.add_heading("Statement on the safety and security of peacekeepers", 0)
    document.add_paragraph("Mr. President,")
    document.add_paragraph("I thank you for convening this open debate.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Mission"
    table.cell(0, 1).text = "Casualties"
    table.cell(1, 0).text = "MINUSCA"
    table.cell(1, 1).text = "7"
    document.add_heading("Accountability", 1)
    document.add_paragraph("Impunity invites further violence.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# -------------------------------------------------------------------------------- text


def test_a_python_docx_statement_reads_with_its_table_but_not_its_letterhead() -> None:
    statement = read_docx(python_docx_statement())

    assert statement.text.split("\n") == [
        "Statement on the safety and security of peacekeepers",
        "Mr. President,",
        "I thank you for convening this open debate.",
        "Mission",
        "Casualties",
        "MINUSCA",
        "7",
        "Accountability",
        "Impunity invites further violence.",
    ]
    assert "Permanent Mission" not in statement.text
    assert "Check against delivery" not in statement.text
    assert statement.title == "Statement on the safety and security of peacekeepers"
    assert statement.paragraphs == 9
    assert statement.has_macros is False


def test_a_statements_footnotes_and_endnotes_count_but_its_header_and_footer_do_not() -> None:
    content = package(
        para("The safety of peacekeepers is our first concern.")
        + para("We condemn every attack on them."),
        parts={
            "word/footnotes.xml": notes_xml("footnote", ["See resolution 2518 (2020)."]),
            "word/endnotes.xml": notes_xml("endnote", ["Check against delivery."]),
            "word/header1.xml": header_xml("hdr", "Permanent Mission of Ruritania"),
            "word/footer1.xml": header_xml("ftr", "Page 1 of 2"),
        },
    )

    statement = read_docx(content)

    assert statement.text == (
        "The safety of peacekeepers is our first concern.\n"
        "We condemn every attack on them.\n"
        "See resolution 2518 (2020).\n"
        "Check against delivery."
    )
    assert statement.paragraphs == 4
    assert measure_text(statement.text).words == 8 + 6 + 4 + 3


def test_tracked_deletions_field_codes_and_duplicate_text_boxes_are_not_read() -> None:
    tracked = (
        run("Peacekeepers ")
        + '<w:del w:id="1" w:author="A"><w:r><w:delText>never </w:delText></w:r></w:del>'
        + f'<w:ins w:id="2" w:author="A">{run("must ")}</w:ins>'
        + f'<w:moveFrom w:id="3" w:author="A">{run("always ")}</w:moveFrom>'
        + run("be protected.")
    )
    field = (
        run("Page ")
        + '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        + '<w:r><w:instrText xml:space="preserve"> PAGE \\* MERGEFORMAT </w:instrText></w:r>'
        + '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        + run("3")
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        + f'<w:fldSimple w:instr=" NUMPAGES ">{run("/7")}</w:fldSimple>'
    )
    characters = (
        '<w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
        + run("A")
        + "<w:r><w:tab/><w:t>B</w:t><w:br/><w:t>C</w:t><w:cr/><w:t>D</w:t></w:r>"
        + '<w:r><w:t xml:space="preserve"> peace</w:t><w:noBreakHyphen/><w:t>keeping</w:t></w:r>'
    )
    text_box = (
        run("Before the box.")
        + "<w:r><mc:AlternateContent>"
        + '<mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>'
        + para("Inside the box.")
        + "</w:txbxContent></wps:txbx></w:drawing></mc:Choice>"
        + "<mc:Fallback><w:pict><v:textbox><w:txbxContent>"
        + para("Inside the box.")
        + "</w:txbxContent></v:textbox></w:pict></mc:Fallback>"
        + "</mc:AlternateContent></w:r>"
    )
    content = package(
        para(runs=tracked) + para(runs=field) + para(runs=characters) + para(runs=text_box)
    )

    statement = read_docx(content)

    assert statement.text.split("\n") == [
        "Peacekeepers must be protected.",
        "Page 3/7",
        "A B",
        "C",
        "D peace-keeping",
        "Inside the box.",
        "Before the box.",
    ]


def test_the_title_is_the_first_heading_not_the_letterhead_line_above_it() -> None:
    content = package(
        para("Permanent Mission of Ruritania")
        + para("Check against delivery", style="ListParagraph")
        + para("Statement by Ambassador Jane Doe", style="Heading1")
        + para("Mr. President,")
        + para("A later title", style="Title")
    )

    assert read_docx(content).title == "Statement by Ambassador Jane Doe"


@pytest.mark.parametrize(
    ("style_id", "style_name"),
    [("berschrift1", "heading 1"), ("1", "heading 1"), ("Titre", "Title")],
    ids=["German Word", "Chinese or Russian Word", "French Word"],
)
def test_a_localized_heading_style_is_recognised_by_its_name_in_styles_xml(
    style_id: str, style_name: str
) -> None:
    content = package(
        para("Permanent Mission", style="a3")
        + para("Déclaration sur la sécurité des Casques bleus", style=style_id)
        + para("Monsieur le Président,"),
        parts={"word/styles.xml": styles_xml({"a3": "Body Text", style_id: style_name})},
    )

    assert read_docx(content).title == "Déclaration sur la sécurité des Casques bleus"


def test_without_a_heading_the_title_is_the_first_line_cut_at_300_characters() -> None:
    long_line = "Statement " + "on the protection of peacekeepers " * 20
    content = package(
        para(runs=run(long_line) + "<w:r><w:br/></w:r>" + run("second line")),
        parts={"word/styles.xml": styles_xml({"Normal": "Normal"})},
    )

    title = read_docx(content).title

    assert title is not None
    assert len(title) == 300
    assert title.startswith("Statement on the protection")
    assert read_docx(package(para(" "))).title is None


def test_the_page_count_is_the_one_word_saved_in_app_xml() -> None:
    body = para("Mr. President,")

    assert read_docx(package(body, parts={"docProps/app.xml": app_xml("3")})).pages == 3
    assert read_docx(package(body)).pages is None
    assert read_docx(package(body, parts={"docProps/app.xml": app_xml("many")})).pages is None
    assert read_docx(package(body, parts={"docProps/app.xml": "<not xml"})).pages is None


def test_a_statement_with_a_macro_project_is_flagged_not_refused() -> None:
    vba = OLE2_MAGIC + b"\x00" * 504
    with_project = package(
        para("Mr. President,"),
        parts={"word/vbaProject.bin": vba},
        main_type=MACRO_MAIN_TYPE,
    )
    type_only = package(para("Mr. President,"), main_type=MACRO_MAIN_TYPE)
    project_only = package(para("Mr. President,"), parts={"word/vbaProject.bin": vba})

    assert read_docx(with_project).has_macros is True
    assert read_docx(type_only).has_macros is True
    assert read_docx(project_only).has_macros is True
    assert read_docx(package(para("Mr. President,"))).has_macros is False


# ------------------------------------------------------------------------------ length


CHINESE_SENTENCE = "维和人员的安全保障必须始终是安理会的首要任务袭击者必须被追究责任"  # 32 Han


def test_a_chinese_statement_is_counted_in_characters() -> None:
    sentence = CHINESE_SENTENCE[:30]
    paragraph = "".join(f"{sentence[:15]}，{sentence[15:]}。" for _ in range(20))
    statement = read_docx(package(para(paragraph)))

    length = measure_text(statement.text)

    assert length == Length(words=0, cjk_characters=600)
    assert length.measure("zh") == 600
    assert detect_language(statement.text) == "zh"


def test_mixed_chinese_and_latin_text_counts_characters_and_words() -> None:
    length = measure_text("安理会第2730（2024）号决议要求保护UNIFIL和peace-keeping人员。")

    # 安理会第 号决议要求保护 和 人员: 14 characters; 2730, 2024, UNIFIL, peace-keeping.
    assert length == Length(words=4, cjk_characters=14)
    assert length.measure("zh") == 18
    assert length.measure("en") == 18


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The Council's peace-keeping mandate", 4),
        ("d'une résolution adoptée à l'unanimité", 5),
        ("2,000 peacekeepers and 3.5 million dollars", 6),
        ("S/RES/2730 (2024), paragraph 4 (b)", 7),
        ("— 7 — ... !!!", 1),
        ("مُحَمَّد شكراً للسيد الرئيس", 4),
        ("Безопасность миротворцев — наш приоритет.", 4),
        ("평화유지군의 안전은 우리의 최우선 과제입니다", 5),
        ("co\u00adoperation", 1),
        ("", 0),
    ],
)
def test_words_are_counted_as_a_reader_counts_them(text: str, words: int) -> None:
    assert measure_text(text) == Length(words=words, cjk_characters=0)


def test_japanese_characters_are_counted_one_each() -> None:
    # 平和維持要員 の 安全 ｶﾀｶﾅ; the comma and full stop count nothing.
    assert measure_text("平和維持要員の安全、ｶﾀｶﾅ。") == Length(words=0, cjk_characters=13)


# ---------------------------------------------------------------------------- language


SHORT_STATEMENTS = {
    "ar": "يجب أن تظل سلامة وأمن حفظة السلام على رأس أولوياتنا، ويجب محاسبة كل من يعتدي عليهم.",
    "zh": "维和人员的安全与安保必须始终是我们的首要任务，袭击维和人员的人必须被追究责任。",
    "en": "The safety and security of peacekeepers must remain our highest priority, and "
    "those who attack them must be held accountable.",
    "fr": "La sûreté et la sécurité des soldats de la paix doivent rester notre priorité "
    "absolue, et les auteurs d'attaques contre eux doivent répondre de leurs actes.",
    "ru": "Безопасность миротворцев должна оставаться нашим главным приоритетом, а те, кто "
    "нападает на них, должны быть привлечены к ответственности.",
    "es": "La seguridad de los efectivos de mantenimiento de la paz debe seguir siendo "
    "nuestra máxima prioridad, y quienes los atacan deben rendir cuentas.",
}


@pytest.mark.parametrize("language", OFFICIAL_LANGUAGES)
def test_a_short_paragraph_is_recognised_in_each_official_language(language: str) -> None:
    assert detect_language(SHORT_STATEMENTS[language]) == language
    assert language in LANGUAGE_NAMES


def test_a_statement_read_from_word_has_its_language_detected() -> None:
    statement = read_docx(package(para(SHORT_STATEMENTS["fr"])))

    assert detect_language(statement.text) == "fr"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Thank you.",
        "Je vous remercie.",
        "12 345 678 — 2024/25",
        "平和維持要員の安全と安心は、私たちの最優先事項であり続けなければなりません。",
        "Η ασφάλεια των ειρηνευτών πρέπει να παραμείνει η ύψιστη προτεραιότητά μας.",
    ],
    ids=["empty", "two words", "a greeting", "numbers", "Japanese", "Greek"],
)
def test_too_little_text_or_a_language_outside_the_six_has_no_language(text: str) -> None:
    assert detect_language(text) is None


def test_an_english_statement_quoting_japanese_is_english() -> None:
    text = SHORT_STATEMENTS["en"] + " As the proverb says, 「七転び八起き」, we will not give up."

    assert detect_language(text) == "en"


def test_french_guillemets_do_not_make_a_statement_chinese() -> None:
    # Asked to choose among all six, langid calls guillemet-heavy text Chinese.
    text = (
        "La France salue « l'engagement » des « Casques bleus » et rappelle que « la "
        "sécurité des soldats de la paix » reste « notre priorité »."
    )

    assert detect_language(text) == "fr"


# ----------------------------------------------------------------------------- hostile

BOMB_SIZE = 500 * MIB
BOMB_HEAD = (
    XML_DECLARATION + f'<w:document {NAMESPACES}><w:body><w:p><w:r><w:t xml:space="preserve">'
).encode()
BOMB_TAIL = b"</w:t></w:r></w:p></w:body></w:document>"
CHILD = textwrap.dedent(
    """
    import sys
    from pipeline.documents.docx_reader import read_docx
    from pipeline.documents.errors import DocumentError

    def peak_kb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

    with open(sys.argv[1], "rb") as handle:
        content = handle.read()
    before = peak_kb()
    try:
        read_docx(content)
        outcome = "read"
    except DocumentError as error:
        outcome = type(error).__name__
    print(outcome, before, peak_kb())
    """
)


def _bomb_chunks() -> Iterator[bytes]:
    yield BOMB_HEAD
    spaces = b" " * MIB
    for _ in range(BOMB_SIZE // MIB):
        yield spaces
    yield BOMB_TAIL


def _write_bomb(path: Path) -> None:
    """A .docx whose document.xml inflates to 500 MB of spaces, written a chunk at a time
    (this process never holds more than 1 MB of it)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types())
        archive.writestr("_rels/.rels", ROOT_RELS)
        with archive.open("word/document.xml", "w") as member:
            for chunk in _bomb_chunks():
                member.write(chunk)


def _central_entries(data: bytes) -> Iterator[tuple[int, str]]:
    """(offset, name) of each central-directory entry of a zip without a comment."""
    entries, _size, offset = struct.unpack("<HII", data[-12:-2])
    for _ in range(entries):
        name_length, extra_length, comment_length = struct.unpack(
            "<HHH", data[offset + 28 : offset + 34]
        )
        yield offset, data[offset + 46 : offset + 46 + name_length].decode()
        offset += 46 + name_length + extra_length + comment_length


def understate(data: bytes, name: str, declared: int, crc: int | None = None) -> bytes:
    """Rewrite a member's uncompressed size (and CRC) in both of its headers."""
    patched = bytearray(data)
    for entry, entry_name in _central_entries(data):
        if entry_name == name:
            local = struct.unpack("<I", data[entry + 42 : entry + 46])[0]
            struct.pack_into("<I", patched, entry + 24, declared)
            struct.pack_into("<I", patched, local + 22, declared)
            if crc is not None:
                struct.pack_into("<I", patched, entry + 16, crc)
                struct.pack_into("<I", patched, local + 14, crc)
            return bytes(patched)
    raise AssertionError(f"{name} not in the archive")


def _crc_of_prefix(length: int) -> int:
    crc = zlib.crc32(BOMB_HEAD[:length])
    remaining = length - min(length, len(BOMB_HEAD))
    spaces = b" " * MIB
    while remaining > 0:
        crc = zlib.crc32(spaces[: min(remaining, MIB)], crc)
        remaining -= MIB
    return crc


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "statement.docx"
    _write_bomb(path)
    return path


@pytest.fixture(scope="module")
def understated_bombs(bomb: Path) -> dict[str, Path]:
    """The bomb with its directory claiming 1 KB, and 50 MB (under every limit); the CRC
    matches the claimed prefix, as a careful attacker would make it."""
    data = bomb.read_bytes()
    paths = {}
    for label, declared in (("1 KB", 1024), ("50 MB", 50 * MIB)):
        path = bomb.with_name(f"understated-{declared}.docx")
        path.write_bytes(understate(data, "word/document.xml", declared, _crc_of_prefix(declared)))
        paths[label] = path
    return paths


def test_a_decompression_bomb_is_refused_before_anything_is_inflated(bomb: Path) -> None:
    content = bomb.read_bytes()
    assert len(content) < 2 * MIB

    with pytest.raises(UnsafeDocument, match="unpacks to more than 100 MB"):
        inspect_zip(content)
    with pytest.raises(UnsafeDocument):
        read_docx(content)


def _child_peak(path: Path) -> tuple[str, int, int]:
    if not Path("/proc/self/status").exists():
        pytest.skip("VmHWM needs Linux's /proc/self/status")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome, before, peak = result.stdout.split()
    return outcome, int(before), int(peak)


def test_reading_a_bomb_keeps_a_worker_under_80_mb(
    bomb: Path, understated_bombs: dict[str, Path]
) -> None:
    cases = {"honest": bomb, **understated_bombs}
    peaks = {}
    for label, path in cases.items():
        outcome, before, peak = _child_peak(path)
        peaks[label] = (outcome, before // 1024, peak // 1024)
        assert outcome in ("UnsafeDocument", "UnreadableDocument"), (label, outcome)
        assert peak < 80 * 1024, (label, peaks[label])
    print(f"child VmHWM in MB (before read, after read): {peaks}")


def test_a_zip_whose_directory_understates_its_sizes_is_still_stopped(
    understated_bombs: dict[str, Path],
) -> None:
    content = understated_bombs["1 KB"].read_bytes()
    inspect_zip(content)  # every declared number is harmless...

    with pytest.raises(UnreadableDocument):  # ...and only that much is ever inflated
        read_docx(content)


def test_read_member_counts_what_it_inflates_not_what_the_directory_declares() -> None:
    payload = b"x" * (3 * MIB)
    content = zip_bytes({"word/document.xml": payload}, zipfile.ZIP_STORED)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        info = archive.getinfo("word/document.xml")
        info.file_size = 2**40  # a directory that claims anything at all
        with pytest.raises(UnsafeDocument, match="parts unpacks to more than 1 MB"):
            read_member(archive, "word/document.xml", ZipLimits(max_member_uncompressed=MIB))

    zeros = zip_bytes({"word/document.xml": b"\0" * (3 * MIB)})
    with (
        zipfile.ZipFile(io.BytesIO(zeros)) as archive,
        pytest.raises(UnsafeDocument, match="compressed more than 200 to 1"),
    ):
        read_member(archive, "word/document.xml", ZipLimits())


def test_a_tightly_compressed_part_is_refused_from_its_declared_ratio() -> None:
    content = package(para("Mr. President,"), parts={"word/media/padding.bin": b"\0" * (2 * MIB)})

    with pytest.raises(UnsafeDocument, match="compressed more than 200 to 1"):
        read_docx(content)
    read_docx(content, ZipLimits(max_ratio=10_000))


def test_an_archive_of_too_many_files_is_refused() -> None:
    members: dict[str, str | bytes] = {f"word/media/image{n}.png": b"" for n in range(2001)}
    content = package(para("Mr. President,"), parts=members)

    with pytest.raises(UnsafeDocument, match="more than 2000 files"):
        read_docx(content)
    with pytest.raises(UnsafeDocument, match="more than 3 files"):
        inspect_zip(package(para("x")), ZipLimits(max_members=3))  # it has 4


def test_a_directory_claiming_a_huge_number_of_entries_is_refused_before_parsing() -> None:
    content = bytearray(package(para("Mr. President,")))
    struct.pack_into("<HH", content, len(content) - 22 + 8, 65000, 65000)

    with pytest.raises(UnsafeDocument, match="more than 2000 files"):
        inspect_zip(bytes(content))


def test_embedded_objects_are_allowed_but_an_archive_hidden_elsewhere_is_not() -> None:
    spreadsheet = zip_bytes({"xl/workbook.xml": "<workbook/>"})
    ole_object = OLE2_MAGIC + b"\0" * 504
    embedded = package(
        para("See the attached table."),
        parts={
            "word/embeddings/Microsoft_Excel_Worksheet1.xlsx": spreadsheet,
            "word/embeddings/oleObject1.bin": ole_object,
        },
    )
    hidden = package(para("Mr. President,"), parts={"word/media/image1.png": spreadsheet})
    too_many = package(
        para("Mr. President,"),
        parts={f"word/embeddings/oleObject{n}.bin": ole_object for n in range(21)},
    )

    assert read_docx(embedded).text == "See the attached table."
    with pytest.raises(UnsafeDocument, match="contains another archive"):
        read_docx(hidden)
    with pytest.raises(UnsafeDocument, match="embeds more than 20 objects"):
        read_docx(too_many)


def test_a_part_listed_twice_is_refused() -> None:
    content = package(
        para("What one reader sees."),
        parts={"WORD/document.xml": document_xml(para("What another reader sees."))},
    )

    with pytest.raises(UnsafeDocument, match="same part twice"):
        read_docx(content)


def billion_laughs(encoding: str = "UTF-8") -> str:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f"<!DOCTYPE w:document [{entities}]>"
        f"<w:document {NAMESPACES}><w:body>{para('&lol9;')}</w:body></w:document>"
    ).replace("&amp;lol9;", "&lol9;")


def _utf7(text: str) -> bytes:
    """UTF-7 with every character base64-encoded, so no '<!' byte pair appears."""
    return b"+" + base64.b64encode(text.encode("utf-16-be")).rstrip(b"=") + b"-"


@pytest.mark.parametrize(
    "document",
    [
        billion_laughs().encode(),
        billion_laughs("UTF-16").encode("utf-16"),
        # "<!DOC" ends the first 64 KB chunk, "TYPE" starts the second.
        (
            XML_DECLARATION
            + "<!--"
            + "x" * (CHUNK_SIZE - len(XML_DECLARATION) - 11)
            + "-->"
            + "<!DOCTYPE w:document>"
            + document_xml(para("Mr. President,")).split("?>", 1)[1]
        ).encode(),
        # Invisible to the byte scan; caught once parsed (and never expanded).
        b'<?xml version="1.0" encoding="UTF-7"?>'
        + _utf7('<!DOCTYPE w:document [<!ENTITY x "y">]>')
        + document_xml(para("Mr. President,")).split("?>", 1)[1].encode(),
    ],
    ids=["utf-8", "utf-16", "across two chunks", "utf-7"],
)
def test_xml_entity_declarations_are_refused(document: bytes) -> None:
    with pytest.raises(UnsafeDocument, match="XML entity declarations"):
        read_docx(package("", document=document))


STYLES = f'<w:styles {NAMESPACES}><w:style w:styleId="Normal"/></w:styles>'


@pytest.mark.parametrize(
    ("styles", "refused"),
    [
        (billion_laughs().split("<w:document", 1)[0] + STYLES, UnsafeDocument),
        (
            (billion_laughs("UTF-16").split("<w:document", 1)[0] + STYLES).encode("utf-16"),
            UnsafeDocument,
        ),
        # A comment with a fake root element in front does not end the prolog.
        (
            XML_DECLARATION + '<!-- <w:styles> --><!DOCTYPE s [<!ENTITY a "b">]>' + STYLES,
            UnsafeDocument,
        ),
        (XML_DECLARATION + "<!ELEMENT s ANY>" + STYLES, UnsafeDocument),
        (
            b'<?xml version="1.0" encoding="UTF-7"?>' + _utf7("<!DOCTYPE s>" + STYLES),
            UnreadableDocument,
        ),
    ],
    ids=["utf-8", "utf-16", "behind a comment", "another declaration", "utf-7"],
)
def test_declarations_in_any_xml_part_refuse_the_file_before_it_is_read(
    styles: str | bytes, refused: type[DocumentError]
) -> None:
    """styles.xml here, but any part: python-docx and LibreOffice parse them all."""
    content = package(para("Mr. President,"), parts={"word/styles.xml": styles})

    with pytest.raises(refused):
        inspect_zip(content)
    with pytest.raises(refused):
        read_docx(content)


def test_the_declaration_scan_reads_a_part_only_up_to_its_root_element() -> None:
    """A part whose root element starts at once is cleared from its first bytes: markup
    that looks like a declaration further on is text or an error for any parser, and a
    huge part costs no inflating."""
    quoted = XML_DECLARATION + STYLES.replace("/></w:styles>", "/><!DOCTYPE x></w:styles>")
    inspect_zip(package(para("Mr. President,"), parts={"word/styles.xml": quoted}))


def test_the_dtd_guard_sees_a_marker_split_between_chunks() -> None:
    guard = DtdGuard()
    guard.feed(b"<?xml version='1.0'?><!DOC")
    with pytest.raises(UnsafeDocument):
        guard.feed(b"TYPE a []><a/>")

    with pytest.raises(UnsafeDocument):
        parse_xml(b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>')


def _valid() -> bytes:
    return package(
        para("The safety of peacekeepers is our first concern. " * 40),
        parts={"word/footnotes.xml": notes_xml("footnote", ["See resolution 2518."])},
    )


def _corrupt_deflate(content: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        info = archive.getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    damaged = bytearray(content)
    for offset in range(start + 20, start + info.compress_size - 4, 7):
        damaged[offset] ^= 0x5A
    return bytes(damaged)


def _encrypted_flag(content: bytes) -> bytes:
    patched = bytearray(content)
    for entry, name in _central_entries(content):
        if name == "word/document.xml":
            patched[entry + 8] |= 0x1
    return bytes(patched)


DAMAGED_FILES: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "not a zip": lambda: b"PK\x03\x04" + b"\x17" * 4000,
    "first half": lambda: _valid()[: len(_valid()) // 2],
    "last byte missing": lambda: _valid()[:-1],
    "no document.xml": lambda: zip_bytes({"[Content_Types].xml": content_types()}),
    "document.xml not XML": lambda: package("", document=b"\x00\x01 this is not XML"),
    "document.xml cut short": lambda: package("", document=document_xml(para("x"))[:-30]),
    "deflate stream damaged": lambda: _corrupt_deflate(_valid()),
    "encrypted part": lambda: _encrypted_flag(_valid()),
    "bzip2 compression": lambda: zip_bytes(
        {"word/document.xml": document_xml(para("x"))}, zipfile.ZIP_BZIP2
    ),
}


@pytest.mark.parametrize("damage", DAMAGED_FILES)
def test_a_damaged_file_is_unreadable_never_a_crash(damage: str) -> None:
    content = DAMAGED_FILES[damage]()

    with pytest.raises(UnreadableDocument):
        read_docx(content)


def test_random_damage_gives_text_or_a_document_error_and_nothing_else() -> None:
    original = _valid()
    rng = random.Random(20260315)
    outcomes = {"read": 0, "UnreadableDocument": 0, "UnsafeDocument": 0}
    for _ in range(400):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 12)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.2:
            del damaged[rng.randrange(len(damaged)) :]
        try:
            read_docx(bytes(damaged))
        except DocumentError as error:
            outcomes[type(error).__name__] += 1
        else:
            outcomes["read"] += 1
    assert outcomes["UnreadableDocument"] > 0
    assert sum(outcomes.values()) == 400


# ------------------------------------------------------------------------------ corpus


OOXML_WORD = {FileType.DOCX, FileType.DOCM, FileType.DOTX}


def _corpus_docx() -> list[object]:
    if not POI.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no Word corpus at {POI}"))]
    return [
        pytest.param(path, id=path.name)
        for path in sorted(POI.iterdir())
        if path.is_file() and detect_type(path.read_bytes()) in OOXML_WORD
    ]


@pytest.mark.parametrize("path", _corpus_docx())
def test_every_word_file_in_the_corpus_reads_or_is_refused_cleanly(path: Path) -> None:
    content = path.read_bytes()
    try:
        statement = read_docx(content)
    except DocumentError:
        return
    assert isinstance(statement, DocxText)
    # A paragraph with line breaks is one paragraph of several lines.
    assert statement.paragraphs <= (len(statement.text.split("\n")) if statement.text else 0)
    assert statement.title is None or 0 < len(statement.title) <= 300
    measure_text(statement.text)
    detect_language(statement.text)


def test_the_shipped_language_model_is_langids_own() -> None:
    """The six-language model loaded at start (pipeline/documents/langid_six.npz) holds
    exactly the numbers the installed langid decodes, and judges text the same way: a
    stale file after a langid upgrade fails here (regenerate with
    `python -m pipeline.documents.langid_model`)."""
    assert langid_model.MODEL_LANGUAGES == OFFICIAL_LANGUAGES
    decoded = langid_model.decode_langid(OFFICIAL_LANGUAGES)
    shipped = langid_model.load()
    expected = langid_model.arrays_of(decoded)
    got = langid_model.arrays_of(shipped)

    assert sorted(got) == sorted(expected)
    for name, values in expected.items():
        assert got[name].dtype == values.dtype, name
        assert (got[name] == values).all(), name
    for text in (
        "Mr. President, I thank you for convening this open debate on peacekeeping.",
        "Monsieur le Président, je vous remercie d'avoir convoqué ce débat public.",
        "Señor Presidente, le agradezco la convocatoria de este debate abierto.",
    ):
        assert shipped.nb_classprobs(shipped.instance2fv(text)).tolist() == (
            decoded.nb_classprobs(decoded.instance2fv(text)).tolist()
        )
