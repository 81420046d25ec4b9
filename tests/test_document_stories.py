"""Statements and cover letters as delegations really send them, through the whole
pipeline: real files made by LibreOffice in the six official languages, legacy formats,
macros, passwords, templates, scans, bombs, and statements that run long.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest

from pipeline.demo.mail import Attachment, build_email
from pipeline.demo.statements import statement_docx
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore
from tests.conftest import SUBMISSIONS, Intake, ny, text_of
from tests.helpers.corpus import WORD
from tests.helpers.office_files import STATEMENT_TEXT, OfficeFiles, billion_laughs_in_styles

ON_TIME = ny(2021, 5, 20, 10, 0)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# A mission per official language, with its registered address.
SENDERS = {
    "ar": ("EGY", "egypt@un.int"),
    "zh": ("CHN", "china@un.int"),
    "en": ("GHA", "ghana@un.int"),
    "fr": ("FRA", "france@un.int"),
    "ru": ("RUS", "russia@un.int"),
    "es": ("ESP", "spain@un.int"),
}
EXTENSIONS = {"docx": ".docx", "doc": ".doc", "docm": ".docm", "rtf": ".rtf", "odt": ".odt"}


@pytest.fixture
def missions(intake: Intake) -> Intake:
    intake.reconfigure(
        missions={code: {"senders": [address]} for code, address in SENDERS.values()}
    )
    return intake


def attachment(name: str, content: bytes, kind: str = "application/octet-stream") -> Attachment:
    return Attachment(filename=name, content=content, content_type=kind)


def letter_pdf(office: OfficeFiles, language: str = "en") -> Attachment:
    return attachment(
        "Cover letter.pdf", office[(language, "letter_pdf")].read_bytes(), "application/pdf"
    )


def email(sender: str, *files: Attachment, number: int = 0) -> bytes:
    return build_email(
        sender=sender,
        to=SUBMISSIONS,
        subject=f"PKO-SAFETY: written statement {number}",
        attachments=files,
        message_id=f"<documents-{number}-{sender}>",
    )


def statement_from(office: OfficeFiles, language: str, form: str) -> Attachment:
    return attachment(f"Statement{EXTENSIONS[form]}", office[(language, form)].read_bytes())


def submission_of(intake: Intake, mission: str) -> m.Submission:
    codes = {row.reference: row.mission for row in intake.queue()}
    submissions: list[m.Submission] = intake.rows(m.Submission)
    [found] = [s for s in submissions if codes.get(s.reference) == mission]
    return found


def test_a_statement_in_each_official_language_is_accepted_with_what_the_compilation_needs(
    missions: Intake, office_files: OfficeFiles
) -> None:
    for number, (language, (_code, sender)) in enumerate(SENDERS.items()):
        missions.deliver(
            email(
                sender,
                statement_from(office_files, language, "docx"),
                letter_pdf(office_files, language),
                number=number,
            ),
            at=ON_TIME,
        )

    missions.run()

    rows = {row.mission: row for row in missions.queue()}
    assert {code: row.status for code, row in rows.items()} == {
        code: "accepted" for code, _ in SENDERS.values()
    }
    for language, (code, _sender) in SENDERS.items():
        submission = submission_of(missions, code)
        assert submission.statement_language == language
        assert submission.statement_title == STATEMENT_TEXT[language][0]
        assert submission.length_unit == ("characters" if language == "zh" else "words")
        assert submission.word_count is not None
        assert submission.word_count > 60
        assert submission.letter_signatory == "permanent_representative"
        assert submission.letter_verified is True
        assert submission.letter_pages == 1


@pytest.mark.parametrize(
    ("language", "form"),
    [("en", "doc"), ("fr", "rtf"), ("ru", "odt"), ("zh", "doc"), ("ar", "rtf"), ("es", "odt")],
)
def test_a_legacy_statement_is_converted_and_both_files_are_kept(
    missions: Intake, office_files: OfficeFiles, language: str, form: str
) -> None:
    code, sender = SENDERS[language]
    missions.deliver(
        email(sender, statement_from(office_files, language, form), letter_pdf(office_files)),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.mission) == ("accepted", code)
    documents = {d.role: d for d in missions.rows(m.Document)}
    original = documents[m.DocumentRole.STATEMENT]
    converted = documents[m.DocumentRole.CONVERTED_STATEMENT]
    assert original.detected_type == form
    assert original.filename == f"Statement{EXTENSIONS[form]}"
    assert converted.converted_from_id == original.id
    assert converted.conversion_tool is not None
    assert converted.conversion_tool.startswith("LibreOffice")
    # The converted file is a real .docx with the statement's text: what later stages read.
    store = BlobStore(missions.settings.storage_path)
    opened = docx.Document(io.BytesIO(store.get(converted.sha256)))
    text = "\n".join(p.text for p in opened.paragraphs)
    assert STATEMENT_TEXT[language][0] in text
    assert submission_of(missions, code).statement_language == language


def test_without_conversion_a_legacy_statement_is_answered_with_a_request_for_docx(
    missions: Intake, office_files: OfficeFiles
) -> None:
    missions.reconfigure(documents={"convert_legacy": False})
    missions.deliver(
        email("ghana@un.int", statement_from(office_files, "en", "doc"), letter_pdf(office_files)),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.reasons) == ("rejected", ["statement_legacy_word"])
    text = text_of(missions.replies(1)[0])
    assert "Word 97-2003 (.doc)" in text
    assert '"Word Document (*.docx)"' in text


def test_a_macro_enabled_statement_is_refused_and_the_reply_says_what_to_send(
    missions: Intake, office_files: OfficeFiles
) -> None:
    missions.deliver(
        email("ghana@un.int", statement_from(office_files, "en", "docm"), letter_pdf(office_files)),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.reasons) == ("rejected", ["statement_has_macros"])
    text = text_of(missions.replies(1)[0])
    assert "contains macros" in text
    assert "Word Document (*.docx)" in text


def test_a_docx_renamed_from_a_macro_file_is_still_refused(
    missions: Intake, office_files: OfficeFiles
) -> None:
    """The name says .docx; the bytes say macro-enabled."""
    content = office_files[("en", "docm")].read_bytes()
    missions.deliver(
        email(
            "ghana@un.int", attachment("Statement.docx", content, DOCX), letter_pdf(office_files)
        ),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert row.reasons == ["statement_has_macros"]


def test_a_word_template_is_refused_with_how_to_save_a_document(
    missions: Intake, office_files: OfficeFiles
) -> None:
    source = office_files[("en", "docx")].read_bytes()
    template = _with_main_content_type(
        source,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    )
    missions.deliver(
        email("ghana@un.int", attachment("Statement.dotx", template), letter_pdf(office_files)),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert row.reasons == ["statement_template"]
    assert "is a Word template" in text_of(missions.replies(1)[0])


def _with_main_content_type(content: bytes, main: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.wordprocessingml."
                    b"document.main+xml",
                    main.encode(),
                )
            target.writestr(item, data)
    return out.getvalue()


def test_a_password_protected_statement_is_refused_with_how_to_remove_the_password(
    missions: Intake, office_files: OfficeFiles
) -> None:
    protected = WORD / "bug53475-password-is-pass.docx"
    if not protected.is_file():
        pytest.skip(f"the shared Word corpus is absent ({protected} not found)")
    missions.deliver(
        email(
            "ghana@un.int",
            attachment("Statement.docx", protected.read_bytes(), DOCX),
            letter_pdf(office_files),
        ),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert row.reasons == ["statement_encrypted"]
    assert "protected by a password" in text_of(missions.replies(1)[0])


def test_an_empty_and_a_damaged_statement_are_told_apart(
    missions: Intake, office_files: OfficeFiles
) -> None:
    blank = docx.Document()
    blank.add_paragraph("   ")
    buffer = io.BytesIO()
    blank.save(buffer)
    damaged = office_files[("en", "docx")].read_bytes()[:3000]
    missions.deliver(
        email(
            "ghana@un.int",
            attachment("Statement.docx", buffer.getvalue(), DOCX),
            letter_pdf(office_files),
            number=1,
        ),
        at=ON_TIME,
    )
    missions.deliver(
        email(
            "france@un.int",
            attachment("Statement.docx", damaged, DOCX),
            letter_pdf(office_files),
            number=2,
        ),
        at=ON_TIME,
    )

    missions.run()

    rows = {row.mission: row for row in missions.queue()}
    assert rows["GHA"].reasons == ["statement_empty"]
    assert rows["FRA"].reasons == ["statement_unreadable"]


def _bomb(megabytes: int = 400) -> bytes:
    """A small .docx whose word/document.xml inflates to hundreds of megabytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Override PartName="/word/document.xml" ContentType="'
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document."
            'main+xml"/></Types>',
        )
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0"?><w:document xmlns:w="x"><w:body>')
            chunk = b" " * (1 << 20)
            for _ in range(megabytes):
                part.write(chunk)
            part.write(b"</w:body></w:document>")
    return out.getvalue()


def _peak_rss_mb_of_run(config: Path) -> float:
    """Run `intake run-once` in a child process and return its peak resident memory."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "run-once"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    return usage.ru_maxrss / 1024


def test_a_decompression_bomb_is_refused_without_the_run_using_more_memory(
    missions: Intake, office_files: OfficeFiles
) -> None:
    """A 400 MB document.xml in a small .docx: refused unopened; the run's peak memory
    stays within a few tens of MB of a run that files an ordinary statement."""
    bomb = _bomb()
    assert len(bomb) < 2 * 2**20
    config = missions.write_config()
    missions.deliver(
        email(
            "ghana@un.int",
            statement_from(office_files, "en", "docx"),
            letter_pdf(office_files),
            number=1,
        ),
        at=ON_TIME,
    )
    ordinary = _peak_rss_mb_of_run(config)
    missions.deliver(
        email(
            "france@un.int",
            attachment("Statement.docx", bomb, DOCX),
            letter_pdf(office_files),
            number=2,
        ),
        at=ON_TIME,
    )

    with_bomb = _peak_rss_mb_of_run(config)

    rows = {row.mission: row for row in missions.queue()}
    assert rows["FRA"].reasons == ["statement_unsafe"]
    assert with_bomb - ordinary < 40, (ordinary, with_bomb)
    assert "not opened for safety reasons" in text_of(missions.replies_to("france@un.int")[0])


def test_a_statement_whose_styles_carry_a_dtd_is_refused_at_intake(
    missions: Intake, office_files: OfficeFiles
) -> None:
    """The body is a fine statement; styles.xml declares a billion laughs. Accepted, it
    made `intake compile` fail for the whole meeting (issue 12, 6a): every XML part of a
    .docx is checked for declarations before anything parses it."""
    hostile = billion_laughs_in_styles(office_files[("en", "docx")].read_bytes())
    missions.deliver(
        email(
            "ghana@un.int", attachment("Statement.docx", hostile, DOCX), letter_pdf(office_files)
        ),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.reasons) == ("rejected", ["statement_unsafe"])
    text = text_of(missions.replies(1)[0])
    assert "was not opened for safety reasons: it contains XML entity declarations" in text


def test_a_scanned_cover_letter_is_accepted_and_flagged_for_verification(
    missions: Intake, office_files: OfficeFiles
) -> None:
    scan = attachment(
        "Cover letter.pdf", office_files[("en", "pdf_scan")].read_bytes(), "application/pdf"
    )
    missions.deliver(
        email("ghana@un.int", statement_from(office_files, "en", "docx"), scan), at=ON_TIME
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.reasons) == ("accepted", ["cover_letter_unverified"])
    assert submission_of(missions, "GHA").letter_verified is None
    text = text_of(missions.replies(1)[0])
    assert "accepted" in text
    assert "verified by the secretariat" in text


def test_by_policy_a_scanned_cover_letter_is_held_for_the_desk(
    missions: Intake, office_files: OfficeFiles
) -> None:
    missions.reconfigure(decision={"cover_letter_unverified": "hold"})
    scan = attachment(
        "Cover letter.pdf", office_files[("en", "pdf_scan")].read_bytes(), "application/pdf"
    )
    missions.deliver(
        email("ghana@un.int", statement_from(office_files, "en", "docx"), scan), at=ON_TIME
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.reasons) == ("held", ["cover_letter_unverified"])


def test_a_letter_to_the_secretary_general_is_not_a_cover_letter_for_the_council(
    missions: Intake, office_files: OfficeFiles
) -> None:
    letter = docx.Document()
    for line in (
        "Letter dated 20 May 2021 from the Permanent Representative of Ghana to the United "
        "Nations addressed to the Secretary-General",
        "I have the honour to transmit herewith the statement of Ghana.",
        "(Signed) Kwame Mensah, Permanent Representative",
    ):
        letter.add_paragraph(line)
    buffer = io.BytesIO()
    letter.save(buffer)
    missions.deliver(
        email(
            "ghana@un.int",
            statement_from(office_files, "en", "docx"),
            attachment("Cover letter.docx", buffer.getvalue(), DOCX),
        ),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.reasons) == ("rejected", ["cover_letter_not_addressed"])
    assert "President of the Security Council" in text_of(missions.replies(1)[0])


def test_when_names_say_nothing_the_letter_is_found_by_its_content(
    missions: Intake, office_files: OfficeFiles
) -> None:
    """Two Word files called Document1 and Document2: the one addressed to the President
    of the Security Council is the letter, the other the statement."""
    missions.deliver(
        email(
            "france@un.int",
            attachment("Document1.docx", office_files[("fr", "letter_docx")].read_bytes(), DOCX),
            attachment("Document2.docx", office_files[("fr", "docx")].read_bytes(), DOCX),
        ),
        at=ON_TIME,
    )

    missions.run()

    [row] = missions.queue()
    assert row.status == "accepted"
    assert (row.statement_filename, row.cover_letter_filename) == (
        "Document2.docx",
        "Document1.docx",
    )


def _statement(paragraphs: list[str]) -> Attachment:
    return attachment("Statement.docx", statement_docx("Statement", paragraphs), DOCX)


def _words(count: int) -> list[str]:
    sentence = "Peacekeepers deserve our full support and protection in every mission "
    words = (sentence * (count // 10 + 1)).split()[: count - 1]  # the title is one word
    return [" ".join(words[i : i + 100]) for i in range(0, len(words), 100)]


def test_a_long_statement_is_accepted_with_a_note_and_a_slightly_long_one_without(
    missions: Intake, office_files: OfficeFiles
) -> None:
    missions.deliver(
        email("ghana@un.int", _statement(_words(640)), letter_pdf(office_files), number=1),
        at=ON_TIME,
    )
    missions.deliver(
        email("france@un.int", _statement(_words(530)), letter_pdf(office_files), number=2),
        at=ON_TIME,
    )

    missions.run()

    rows = {row.mission: row for row in missions.queue()}
    assert (rows["GHA"].status, rows["GHA"].reasons) == ("accepted", ["over_word_limit"])
    assert (rows["FRA"].status, rows["FRA"].reasons) == ("accepted", [])
    note = text_of(missions.replies_to("ghana@un.int")[0])
    assert "more than the 500 words" in note


def test_a_meeting_can_reject_statements_that_are_too_long(
    missions: Intake, office_files: OfficeFiles
) -> None:
    meeting = dict(missions.config_data["meetings"][0], length_policy="reject")
    missions.reconfigure(meetings=[meeting])
    missions.deliver(
        email("ghana@un.int", _statement(_words(640)), letter_pdf(office_files)), at=ON_TIME
    )

    missions.run()

    [row] = missions.queue()
    assert (row.status, row.reasons) == ("rejected", ["too_long"])
    assert "Please shorten it" in text_of(missions.replies(1)[0])


def test_a_chinese_statement_is_measured_in_characters(
    missions: Intake, office_files: OfficeFiles
) -> None:
    """500 words correspond to 900 Chinese characters by default; 1,040 are too many
    (the tolerance allows 990)."""
    sentence = "维和人员的安全是联合国维和行动的重中之重。"  # 20 characters and a full stop
    text = sentence * 52  # 1,040 characters
    missions.deliver(
        email("china@un.int", _statement([text]), letter_pdf(office_files, "zh")), at=ON_TIME
    )

    missions.run()

    [row] = missions.queue()
    assert row.reasons == ["over_word_limit"]
    submission = submission_of(missions, "CHN")
    assert submission.length_unit == "characters"
    assert submission.word_count is not None
    assert 1040 <= submission.word_count <= 1050
    assert "more than the 900 characters" in text_of(missions.replies(1)[0])
