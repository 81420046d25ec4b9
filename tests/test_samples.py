"""The demo samples are real artefacts: Word opens the .docx, PDF readers accept the PDFs,
mail parsers read the emails. If these tests pass, the pipeline's own tests built on the
samples exercise the formats it will meet in production, not a convenient imitation."""

from __future__ import annotations

import base64
import email
import io
import re
import shutil
import subprocess
import sys
import zlib
from email import policy
from email.message import Message
from typing import Literal

import mailparser
import pytest
from docx import Document

from pipeline.demo.automatic import auto_reply_email, bounce_email
from pipeline.demo.letters import cover_letter_docx, cover_letter_pdf, cover_letter_text
from pipeline.demo.mail import Attachment, build_email
from pipeline.demo.meetings import PKO_SAFETY
from pipeline.demo.pdf import PDF_CONTENT_TYPE
from pipeline.demo.samples import submission_attachments, submission_email
from pipeline.demo.statements import sample_statement_text, statement_docx, statement_pdf
from pipeline.demo.texts import Language
from pipeline.demo.word import DOCX_CONTENT_TYPE

LANGUAGES: tuple[Language, ...] = ("en", "fr", "es")


def _words(paragraphs: list[str]) -> int:
    return sum(len(p.split()) for p in paragraphs)


def _docx_paragraphs(blob: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(blob)).paragraphs]


# -- statement texts ------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("words", [15, 120, 350, 900, 2500])
def test_statement_text_has_roughly_the_requested_length(language: Language, words: int) -> None:
    paragraphs = sample_statement_text("Ghana", words, language=language)
    assert abs(_words(paragraphs) - words) <= max(2, words * 0.1)
    assert all(p.strip() for p in paragraphs)


def test_statement_text_is_deterministic_and_depends_on_the_mission() -> None:
    ghana = sample_statement_text("Ghana", 400)
    assert ghana == sample_statement_text("Ghana", 400)
    assert ghana != sample_statement_text("Uruguay", 400)
    assert any("Ghana" in p for p in ghana)
    assert sample_statement_text("Ghana", 400, language="fr") != ghana


def test_statement_text_is_stable_across_processes() -> None:
    """Seeds come from sha256, not hash(): a new interpreter (new hash salt) agrees."""
    code = (
        "from pipeline.demo.statements import sample_statement_text as s;"
        "print(repr(s('Ghana', 300, language='es')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout.strip()
    assert out == repr(sample_statement_text("Ghana", 300, language="es"))


def test_statement_text_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        sample_statement_text("Ghana", language="de")  # type: ignore[arg-type]


# -- Word documents -------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_statement_docx_opens_and_holds_the_paragraphs(language: Language) -> None:
    paragraphs = sample_statement_text("Norway", 350, language=language)
    blob = statement_docx("Statement by Norway", paragraphs, language=language)
    assert blob[:2] == b"PK"

    document = Document(io.BytesIO(blob))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Statement by Norway"
    style = document.paragraphs[0].style
    assert style is not None
    assert style.name == "Heading 1"
    body = [t for t in texts if t in paragraphs]
    assert body == paragraphs  # verbatim and in order
    assert abs(_words(body) - 350) <= 35
    runs = [run for p in document.paragraphs for run in p.runs]
    assert any(run.bold for run in runs)
    assert any(run.italic for run in runs)
    assert document.tables == []
    assert document.core_properties.title == "Statement by Norway"


def test_statement_docx_table_and_language_tag() -> None:
    blob = statement_docx("Déclaration", ["Texte."], language="fr", with_table=True)
    document = Document(io.BytesIO(blob))
    assert len(document.tables) == 1
    assert document.tables[0].cell(0, 0).text == "Domaine"
    lang = document.styles["Normal"].element.xpath("./w:rPr/w:lang")
    assert lang
    assert (
        lang[0].get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}val") == "fr-FR"
    )


def test_docx_bytes_are_deterministic() -> None:
    """Zip timestamps and core properties are fixed, so a resent file hashes the same."""
    paragraphs = sample_statement_text("Peru", 200)
    assert statement_docx("T", paragraphs) == statement_docx("T", paragraphs)
    assert cover_letter_docx("Peru") == cover_letter_docx("Peru")


def test_cover_letter_docx_wording() -> None:
    texts = _docx_paragraphs(
        cover_letter_docx("Kenya", signer_name="Amani Kamau", date_text="21 May 2021")
    )
    joined = "\n".join(texts)
    assert (
        "Letter dated 21 May 2021 from the Permanent Representative of Kenya to the "
        "United Nations addressed to the President of the Security Council"
    ) in joined
    assert "I have the honour to transmit herewith the statement of Kenya for the open debate" in (
        joined
    )
    assert PKO_SAFETY.title in joined
    assert "(Signed) Amani Kamau, Permanent Representative" in texts
    assert texts == cover_letter_text("Kenya", signer_name="Amani Kamau", date_text="21 May 2021")


def test_cover_letter_by_charge_d_affaires() -> None:
    joined = "\n".join(
        _docx_paragraphs(cover_letter_docx("Chile", signatory="Chargé d'affaires a.i."))
    )
    assert "from the Chargé d'affaires a.i. of the Permanent Mission of Chile" in joined
    assert re.search(r"\(Signed\) .+, Chargé d'affaires a\.i\.", joined)


# -- PDF ------------------------------------------------------------------------------


def _check_pdf_structure(blob: bytes) -> dict[int, bytes]:
    """Validate header, xref table, trailer and stream lengths; return objects by number."""
    assert blob.startswith(b"%PDF-1.")
    assert blob.rstrip().endswith(b"%%EOF")
    startxref = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", blob)
    assert startxref
    xref_at = int(startxref.group(1))
    assert blob[xref_at : xref_at + 4] == b"xref"

    section = re.match(rb"xref\r?\n0 (\d+)\r?\n", blob[xref_at:])
    assert section
    count = int(section.group(1))
    entries_at = xref_at + section.end()
    entries = [blob[entries_at + 20 * i : entries_at + 20 * (i + 1)] for i in range(count)]
    assert entries[0] == b"0000000000 65535 f \n"
    objects: dict[int, bytes] = {}
    for number, entry in enumerate(entries[1:], start=1):
        assert re.fullmatch(rb"\d{10} \d{5} n[ \r][\r\n]", entry), entry
        offset = int(entry[:10])
        header = b"%d 0 obj" % number
        assert blob[offset : offset + len(header)] == header
        end = blob.index(b"endobj", offset)
        objects[number] = blob[offset + len(header) : end]

    trailer = blob[entries_at + 20 * count : xref_at + blob[xref_at:].index(b"startxref")]
    assert trailer.lstrip().startswith(b"trailer")
    assert re.search(rb"/Size %d\b" % count, trailer)
    root = re.search(rb"/Root (\d+) 0 R", trailer)
    assert root
    assert b"/Type /Catalog" in objects[int(root.group(1))]

    for body in objects.values():
        stream = re.search(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", body)
        if stream:
            data_end = stream.end() + int(stream.group(1))
            assert re.match(rb"\r?\n?endstream", body[data_end:])
    return objects


def _naive_pdf_text(objects: dict[int, bytes]) -> str:
    """Strings shown by Tj operators: enough to prove the text layer, no dependency."""
    shown: list[str] = []
    for body in objects.values():
        stream = re.search(rb"/Length (\d+)([^>]*)>>\s*stream\r?\n", body)
        if not stream:
            continue
        data = body[stream.end() : stream.end() + int(stream.group(1))]
        if b"/FlateDecode" in stream.group(2):
            data = zlib.decompress(data)
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", data, re.S):
            text = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), literal)
            shown.append(re.sub(rb"\\(.)", rb"\1", text).decode("latin-1"))
    return "\n".join(shown)


@pytest.mark.parametrize("compress", [False, True])
def test_cover_letter_pdf_is_valid_and_has_text(compress: bool) -> None:
    blob = cover_letter_pdf("Poland", signer_name="Łukasz Wójcik", compress=compress)
    objects = _check_pdf_structure(blob)
    assert sum(b"/Type /Page " in body or b"/Type /Page\n" in body for body in objects.values())
    text = _naive_pdf_text(objects)
    assert "Letter dated 20 May 2021 from the Permanent Representative of Poland" in text
    assert "I have the honour to transmit herewith the statement of Poland" in text
    # Latin-1 kept (ó), other characters transliterated (Ł -> L), parentheses escaped.
    assert "(Signed) Lukasz Wójcik, Permanent Representative" in text
    assert rb"\(Signed\)" in blob or compress


def test_scanned_cover_letter_pdf_has_no_text_layer() -> None:
    blob = cover_letter_pdf("Poland", with_text_layer=False)
    objects = _check_pdf_structure(blob)
    assert b"/Font" not in blob
    assert b" Tj" not in blob
    assert b"BT " not in blob
    assert _naive_pdf_text(objects) == ""
    assert b" re f" in blob  # but the page is not blank


def test_statement_pdf_spans_pages_when_long() -> None:
    paragraphs = sample_statement_text("France", 1500, language="fr")
    blob = statement_pdf("Déclaration de la France", paragraphs, language="fr")
    objects = _check_pdf_structure(blob)
    pages = re.search(rb"/Count (\d+)", blob)
    assert pages
    assert int(pages.group(1)) >= 3
    text = _naive_pdf_text(objects)
    assert "Monsieur le Président" in text
    assert "mise en oeuvre" in text or "mise en" not in " ".join(paragraphs)


def test_pdf_bytes_are_deterministic() -> None:
    assert cover_letter_pdf("Peru") == cover_letter_pdf("Peru")
    assert cover_letter_pdf("Peru", with_text_layer=False) == cover_letter_pdf(
        "Peru", with_text_layer=False
    )


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) not installed")
def test_pdftotext_extracts_cover_letter_text() -> None:
    def extract(blob: bytes) -> str:
        return subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=blob, capture_output=True, check=True
        ).stdout.decode("utf-8")

    text = extract(cover_letter_pdf("Poland", signer_name="Łukasz Wójcik", compress=True))
    assert "I have the honour to transmit herewith" in text
    assert "(Signed) Lukasz Wójcik" in text
    assert extract(cover_letter_pdf("Poland", with_text_layer=False)).strip() == ""


# -- emails ---------------------------------------------------------------------------


def _decoded_attachments(raw: bytes) -> dict[str, bytes]:
    parsed = mailparser.parse_from_bytes(raw)
    found: dict[str, bytes] = {}
    for attachment in parsed.attachments:
        payload = attachment["payload"]
        data = base64.b64decode(payload) if attachment["binary"] else payload.encode()
        found[attachment["filename"]] = data
    return found


def _assert_crlf(raw: bytes) -> None:
    assert b"\r\n" in raw
    assert re.search(rb"(?<!\r)\n", raw) is None


def test_submission_email_carries_real_attachments() -> None:
    raw = submission_email(
        mission_name="Ghana",
        sender="pm@ghana-mission.example",
        to="intake@un.example",
        sender_name="Kwame Mensah",
    )
    _assert_crlf(raw)
    parsed = mailparser.parse_from_bytes(raw)
    assert parsed.subject == "PKO-SAFETY: written statement of Ghana"
    assert parsed.from_ == [("Kwame Mensah", "pm@ghana-mission.example")]
    assert "written statement" in parsed.text_plain[0]

    expected = submission_attachments(mission_name="Ghana")
    assert [a.filename for a in expected] == ["Statement_Ghana.docx", "Cover_letter_Ghana.pdf"]
    assert _decoded_attachments(raw) == {a.filename: a.content for a in expected}

    statement = _decoded_attachments(raw)["Statement_Ghana.docx"]
    paragraphs = sample_statement_text("Ghana", 350)
    assert [t for t in _docx_paragraphs(statement) if t in paragraphs] == paragraphs
    _check_pdf_structure(_decoded_attachments(raw)["Cover_letter_Ghana.pdf"])

    content_types = {a["filename"]: a["mail_content_type"] for a in parsed.attachments}
    assert content_types == {
        "Statement_Ghana.docx": DOCX_CONTENT_TYPE,
        "Cover_letter_Ghana.pdf": PDF_CONTENT_TYPE,
    }


def test_submission_email_is_deterministic_and_content_addressed() -> None:
    def make(words: int = 350) -> bytes:
        return submission_email(
            mission_name="Ghana", sender="pm@gh.example", to="intake@un.example", words=words
        )

    first = make()
    assert first == make()
    other = make(words=200)
    msg_ids = {
        email.message_from_bytes(raw, policy=policy.default)["Message-ID"] for raw in (first, other)
    }
    assert len(msg_ids) == 2


def test_submission_email_variants() -> None:
    raw = submission_email(
        mission_name="Côte d'Ivoire",
        sender="mission@civ.example",
        to="intake@un.example",
        cover_letter="docx",
        statement_as_pdf=True,
        statement_filename="Déclaration Côte d'Ivoire.pdf",
        language="fr",
        html=True,
        meeting_code="PKO-SAFETY",
    )
    _assert_crlf(raw)
    parsed = mailparser.parse_from_bytes(raw)
    assert parsed.subject == "PKO-SAFETY: written statement of Côte d'Ivoire"
    assert parsed.text_html
    files = _decoded_attachments(raw)
    assert set(files) == {"Déclaration Côte d'Ivoire.pdf", "Cover_letter_Cote_d_Ivoire.docx"}
    assert files["Déclaration Côte d'Ivoire.pdf"].startswith(b"%PDF-")
    joined = "\n".join(_docx_paragraphs(files["Cover_letter_Cote_d_Ivoire.docx"]))
    assert "addressed to the President of the Security Council" in joined


def test_submission_without_cover_letter_and_with_scan() -> None:
    only_statement = submission_email(
        mission_name="Fiji", sender="un@fiji.example", to="intake@un.example", cover_letter=None
    )
    assert list(_decoded_attachments(only_statement)) == ["Statement_Fiji.docx"]

    scanned = submission_email(
        mission_name="Fiji",
        sender="un@fiji.example",
        to="intake@un.example",
        statement=False,
        cover_with_text_layer=False,
        cover_filename="scan0001.pdf",
    )
    files = _decoded_attachments(scanned)
    assert list(files) == ["scan0001.pdf"]
    assert _naive_pdf_text(_check_pdf_structure(files["scan0001.pdf"])) == ""


def test_build_email_headers_and_inline_attachment() -> None:
    logo = Attachment("image001.png", b"\x89PNG\r\n\x1a\nfake", "image/png", "inline", "<logo1>")
    raw = build_email(
        sender="a@b.example",
        to="intake@un.example",
        subject="Test",
        attachments=[logo],
        message_id="<fixed@b.example>",
        extra_headers={"X-Mailer": "Microsoft Outlook 16.0", "Subject": "Replaced"},
    )
    _assert_crlf(raw)
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Message-ID"] == "<fixed@b.example>"
    assert message["X-Mailer"] == "Microsoft Outlook 16.0"
    assert message["Subject"] == "Replaced"
    assert message["Date"] == "Thu, 20 May 2021 16:42:07 -0400"
    parts = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert parts[0].get_content_disposition() == "inline"
    assert parts[0]["Content-ID"] == "<logo1>"
    assert parts[0].get_payload(decode=True) == logo.content


def test_auto_reply_is_marked_auto_submitted() -> None:
    raw = auto_reply_email(
        sender="diplomat@mission.example",
        to="intake@un.example",
        original_subject="Receipt of your statement",
        in_reply_to="<ack-1@un.example>",
    )
    _assert_crlf(raw)
    parsed = mailparser.parse_from_bytes(raw)
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == "<ack-1@un.example>"
    assert parsed.subject == "Automatic reply: Receipt of your statement"
    assert parsed.attachments == []


def _part(message: Message, content_type: str) -> Message:
    return next(p for p in message.walk() if p.get_content_type() == content_type)


@pytest.mark.parametrize(("action", "status"), [("failed", "5.1.1"), ("delayed", "4.4.1")])
def test_bounce_is_a_delivery_status_report(
    action: Literal["failed", "delayed"], status: str
) -> None:
    original = build_email(
        sender="intake@un.example",
        to="gone@mission.example",
        subject="Receipt",
        message_id="<ack-42@un.example>",
    )
    raw = bounce_email(original=original, action=action)
    _assert_crlf(raw)
    message = email.message_from_bytes(raw)
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "delivery-status"
    assert message["From"].startswith("Mail Delivery System <MAILER-DAEMON@")
    assert message["To"] == "intake@un.example"
    assert message["Auto-Submitted"] == "auto-replied"

    report = _part(message, "message/delivery-status")
    blocks: list[Message] = report.get_payload()  # type: ignore[assignment]
    assert isinstance(blocks, list)
    assert blocks[0]["Reporting-MTA"].startswith("dns; ")
    assert blocks[1]["Final-Recipient"] == "rfc822; gone@mission.example"
    assert blocks[1]["Action"] == action
    assert blocks[1]["Status"] == status

    headers = _part(message, "text/rfc822-headers").get_payload()
    assert "Message-ID: <ack-42@un.example>" in headers

    parsed = mailparser.parse_from_bytes(raw)  # the pipeline's parser copes with it
    assert parsed.message_id == "<" + raw.split(b"Message-ID: <")[1].split(b">")[0].decode() + ">"


def test_bounce_can_return_the_full_message() -> None:
    original = submission_email(mission_name="Peru", sender="pe@x.example", to="a@un.example")
    raw = bounce_email(original=original, return_content="full")
    message = email.message_from_bytes(raw)
    returned: list[Message] = _part(message, "message/rfc822").get_payload()  # type: ignore[assignment]
    assert isinstance(returned, list)
    assert returned[0]["Subject"] == "PKO-SAFETY: written statement of Peru"
