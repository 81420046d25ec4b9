"""Outlook's winmail.dat: delegations on Outlook or Exchange sometimes send everything
inside one `application/ms-tnef` attachment. The files it holds are the message's
attachments: found, converted and checked like any others, under the names the sender
saw; a winmail.dat with nothing usable gets a rejection that says so and asks for
ordinary attachments. TNEF comes from strangers: corrupt, truncated, enormous or nested
streams end in a recorded outcome, never in an exception.

The real samples live in the shared corpus (never copied here); a statement and a cover
letter inside TNEF are built with `tests/helpers/tnef_files.py`.
"""

from __future__ import annotations

import random
import struct
import time

import pytest
from tnefparse import TNEF

from pipeline.demo import samples
from pipeline.demo.mail import Attachment, build_email
from pipeline.message.parse import parse_message
from pipeline.message.parsed import ParsedMessage
from pipeline.settings.models import LimitsSettings
from pipeline.storage import models as m
from pipeline.storage.blobs import sha256_hex
from tests.conftest import SUBMISSIONS, Intake, ny, text_of
from tests.helpers import tnef_files as tnef
from tests.helpers.corpus import CORPUS, needs_corpus
from tests.helpers.office_files import STATEMENT_TEXT, OfficeFiles

ON_TIME = ny(2021, 5, 20, 10, 0)
TNEF_TYPE = "application/ms-tnef"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TNEF_CORPUS = CORPUS / "tnef"

# The names the delegation saw in Outlook: long, with spaces and non-ASCII letters.
STATEMENT_NAME = "Statement of Ghana – open debate on the safety of peacekeepers.docx"
LETTER_NAME = "Lettre d’envoi du Représentant permanent du Ghana.pdf"


def outlook_email(
    sender: str,
    winmail: bytes,
    *,
    number: int = 0,
    name: str = "winmail.dat",
    others: tuple[Attachment, ...] = (),
) -> bytes:
    """A mail as Outlook sends it in Rich Text format: a short text and one winmail.dat."""
    return build_email(
        sender=sender,
        to=SUBMISSIONS,
        subject=f"PKO-SAFETY: written statement {number}",
        body="Please find attached our statement and the cover letter.\n",
        attachments=[Attachment(name, winmail, TNEF_TYPE), *others],
        message_id=f"<outlook-{number}-{sender}>",
    )


def ghana_files() -> list[tnef.TnefFile]:
    """Ghana's statement (.docx) and cover letter (PDF), under their long names."""
    statement, letter = samples.submission_attachments(mission_name="Ghana")
    return [
        tnef.TnefFile(STATEMENT_NAME, statement.content, DOCX),
        tnef.TnefFile(LETTER_NAME, letter.content, "application/pdf"),
    ]


def parsed_winmail(winmail: bytes, limits: LimitsSettings | None = None) -> ParsedMessage:
    return parse_message(outlook_email("ghana@un.int", winmail), limits=limits)


def names(parsed: ParsedMessage) -> list[str | None]:
    return [a.filename for a in parsed.attachments]


# --- Stories through the whole pipeline ----------------------------------------------------


def test_a_statement_and_letter_inside_winmail_dat_are_accepted_under_their_long_names(
    intake: Intake,
) -> None:
    """GIVEN Ghana's Outlook sends the statement and the cover letter inside winmail.dat
    WHEN Intake reads it THEN the submission is accepted like any other, and the
    acknowledgement lists the files by the names Ghana gave them."""
    intake.deliver(outlook_email("ghana@un.int", tnef.winmail(*ghana_files())), at=ON_TIME)

    report = intake.run()

    assert report.filed == {"accepted": 1}
    [row] = intake.queue()
    assert (row.status, row.mission, row.reasons) == ("accepted", "GHA", [])
    assert row.statement_filename == STATEMENT_NAME
    assert row.cover_letter_filename == LETTER_NAME
    assert row.word_count is not None
    assert 300 < row.word_count < 450
    # Each file is filed under its long name, with its exact bytes.
    documents = {d.role: d for d in intake.rows(m.Document)}
    assert documents[m.DocumentRole.STATEMENT].filename == STATEMENT_NAME
    assert documents[m.DocumentRole.STATEMENT].detected_type == "docx"
    assert documents[m.DocumentRole.COVER_LETTER].filename == LETTER_NAME
    assert documents[m.DocumentRole.COVER_LETTER].detected_type == "pdf"
    assert [
        documents[role].sha256 for role in (m.DocumentRole.STATEMENT, m.DocumentRole.COVER_LETTER)
    ] == [sha256_hex(f.content) for f in ghana_files()]

    # The desk sees where the files came from.
    [filed] = [e for e in intake.rows(m.AuditEvent) if e.kind is m.AuditKind.SUBMISSION_FILED]
    assert filed.detail["winmail"] == [
        {"name": "winmail.dat", "files": [STATEMENT_NAME, LETTER_NAME], "problems": []}
    ]

    [reply] = intake.replies(1)
    text = text_of(reply)
    assert "accepted" in text
    assert "PKO-SAFETY-0001" in reply.message["Subject"]
    assert STATEMENT_NAME in text
    assert LETTER_NAME in text
    assert "STATEM~1" not in text
    assert "winmail.dat" not in text


def test_a_legacy_word_statement_inside_winmail_dat_is_converted(
    intake: Intake, office_files: OfficeFiles
) -> None:
    """A Word 97-2003 statement inside winmail.dat is converted as if attached directly."""
    statement = office_files[("en", "doc")].read_bytes()
    letter = office_files[("en", "letter_pdf")].read_bytes()
    winmail = tnef.winmail(
        tnef.TnefFile("Statement of Ghana (Word 97-2003).doc", statement, "application/msword"),
        tnef.TnefFile("Cover letter of Ghana.pdf", letter, "application/pdf"),
    )
    intake.deliver(outlook_email("ghana@un.int", winmail), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("accepted", [])
    assert row.statement_filename == "Statement of Ghana (Word 97-2003).doc"
    documents = {d.role: d for d in intake.rows(m.Document)}
    assert documents[m.DocumentRole.STATEMENT].detected_type == "doc"
    converted = documents[m.DocumentRole.CONVERTED_STATEMENT]
    assert converted.filename == "Statement of Ghana (Word 97-2003).docx"
    assert converted.conversion_tool is not None
    submission = intake.rows(m.Submission)[0]
    assert submission.statement_title == STATEMENT_TEXT["en"][0]


@needs_corpus
def test_a_winmail_dat_with_nothing_usable_is_rejected_with_a_request_for_ordinary_files(
    intake: Intake,
) -> None:
    """GIVEN Outlook sent only the message text inside winmail.dat (the corpus's body.tnef)
    THEN the reply says that no file was found in the winmail.dat and asks for ordinary
    attachments, instead of claiming that no statement was attached."""
    winmail = (TNEF_CORPUS / "body.tnef").read_bytes()
    intake.deliver(outlook_email("ghana@un.int", winmail), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert row.status == "rejected"
    assert "tnef_without_files" in row.reasons
    assert "no_statement" not in row.reasons
    [filed] = [e for e in intake.rows(m.AuditEvent) if e.kind is m.AuditKind.SUBMISSION_FILED]
    assert filed.detail["winmail"] == [{"name": "winmail.dat", "files": [], "problems": []}]
    [reply] = intake.replies(1)
    text = text_of(reply)
    assert "winmail.dat" in text
    assert "no file could be found in it" in text
    assert "ordinary attachments" in text
    assert "HTML or Plain Text" in text
    assert "No statement was attached" not in text


def test_hostile_winmail_dat_files_each_get_a_recorded_outcome(intake: Intake) -> None:
    """Truncated, corrupt, fake and nested winmail.dat files are filed and answered like
    any broken submission; none stops the run or needs a human because the code broke;
    a good Outlook submission among them is accepted."""
    good = tnef.winmail(*ghana_files())
    nested = tnef.tnef(tnef.embedded_message(good))
    hostile = {
        "cut short in the letter": good[: len(good) - 1000],
        "not TNEF at all": b"This is not a TNEF stream\r\n" * 20,
        "only a signature": good[:6],
        "an attached message": nested,
        "a property block claiming four billion properties": tnef.tnef(
            tnef.attribute(tnef.LEVEL_ATTACHMENT, tnef.ATT_ATTACH_RENDDATA, b"\0" * 14),
            tnef.attribute(tnef.LEVEL_ATTACHMENT, tnef.ATT_ATTACHMENT, b"\xff\xff\xff\xff"),
        ),
    }
    for number, winmail in enumerate(hostile.values()):
        intake.deliver(outlook_email("ghana@un.int", winmail, number=number), at=ON_TIME)
    intake.deliver(outlook_email("france@un.int", good, number=99), at=ON_TIME)

    started = time.monotonic()
    report = intake.run()

    assert time.monotonic() - started < 60
    assert report.processed == len(hostile) + 1
    assert [r.uid for r in intake.ledger() if r.failed_stage is not None] == []
    rows = intake.queue()
    ghana = [row for row in rows if row.mission == "GHA"]
    assert len(ghana) == len(hostile)
    assert all(row.status == "rejected" and row.reasons for row in ghana)
    assert sum("tnef_without_files" in row.reasons for row in ghana) == 4
    [france] = [row for row in rows if row.mission == "FRA"]
    assert france.status == "accepted"
    assert france.statement_filename == STATEMENT_NAME


@needs_corpus
def test_every_corpus_winmail_dat_gets_a_specific_outcome(intake: Intake) -> None:
    """The real Outlook samples, each sent as a submission: a recorded, specific outcome."""
    intake.reconfigure(documents={"convert_legacy": False})
    files = sorted(TNEF_CORPUS.glob("*.tnef"))
    assert len(files) == 8
    for number, path in enumerate(files):
        intake.deliver(outlook_email("ghana@un.int", path.read_bytes(), number=number), at=ON_TIME)

    report = intake.run()

    assert report.processed == len(files)
    assert [r.uid for r in intake.ledger() if r.failed_stage is not None] == []
    reasons = {
        path.stem: row.reasons
        for path, row in zip(files, intake.queue(), strict=True)
        if row.status == "rejected"
    }
    assert len(reasons) == len(files)
    # Nothing usable inside: the TNEF-specific reason.
    assert "tnef_without_files" in reasons["body"]
    assert "tnef_without_files" in reasons["garbage-at-end"]
    # Files inside, but no Word statement among them: the usual reasons.
    for stem in ("two-files", "umlaut", "long-filename", "bad_checksum"):
        assert "no_statement" in reasons[stem], stem
    assert "several_statements" in reasons["missing-filenames"]
    assert "statement_legacy_word" in reasons["duplicate_filename"]


# --- Reading TNEF, in process ----------------------------------------------------------------

CORPUS_NAMES = {
    "missing-filenames": [
        "generpts.src",
        "TechlibDEC99.doc",
        "TechlibDEC99-JAN00.doc",
        "TechlibNOV99.doc",
    ],
    "duplicate_filename": ["file_abcdefgh.txt", "file_abcdefgh.txt", "VIA_Nytt_14021.htm"],
    "umlaut": ["TBZ PARIV GmbH.jpg", "image003.jpg", "UmlautAnhang-äüö.txt"],
    "two-files": ["AUTHORS", "README"],
    "long-filename": ["allproductsmar2000.dat"],
    "bad_checksum": ["image001.png"],
    "garbage-at-end": [],
    "body": [],
}


@needs_corpus
@pytest.mark.parametrize("stem", sorted(CORPUS_NAMES))
def test_each_corpus_sample_gives_its_files_under_their_long_names(stem: str) -> None:
    parsed = parsed_winmail((TNEF_CORPUS / f"{stem}.tnef").read_bytes())

    assert names(parsed) == CORPUS_NAMES[stem]
    [record] = parsed.winmail
    assert record.name == "winmail.dat"
    assert list(record.files) == CORPUS_NAMES[stem]
    assert all(a.from_winmail == "winmail.dat" for a in parsed.attachments)


@needs_corpus
def test_damage_around_a_whole_file_keeps_the_file_and_is_recorded() -> None:
    """bad_checksum.tnef ends inside its last property block (tnefparse sees a wrong
    checksum); duplicate_filename.tnef has property blocks with wrong checksums, as
    Outlook wrote them. The files themselves are whole: they are kept."""
    parsed = parsed_winmail((TNEF_CORPUS / "bad_checksum.tnef").read_bytes())
    [png] = parsed.attachments
    assert png.content.startswith(b"\x89PNG")
    assert len(png.content) == 1_533_127
    assert parsed.winmail[0].problems == ("it was cut short",)

    parsed = parsed_winmail((TNEF_CORPUS / "duplicate_filename.tnef").read_bytes())
    assert len(parsed.attachments) == 3
    assert parsed.winmail[0].problems == ("2 attribute(s) with a wrong checksum",)


def test_the_files_keep_their_exact_bytes_and_declared_types() -> None:
    files = ghana_files()
    parsed = parsed_winmail(tnef.winmail(*files))

    assert names(parsed) == [STATEMENT_NAME, LETTER_NAME]
    assert [a.content for a in parsed.attachments] == [f.content for f in files]
    assert [a.declared_type for a in parsed.attachments] == [DOCX, "application/pdf"]
    assert parsed.winmail[0].problems == ()


def test_ordinary_attachments_beside_a_winmail_dat_stay_where_they_were() -> None:
    statement = ghana_files()[0]
    logo = Attachment("logo.png", b"\x89PNG\r\n\x1a\nlogo", "image/png")
    raw = outlook_email("ghana@un.int", tnef.winmail(statement), others=(logo,))

    parsed = parse_message(raw)

    assert names(parsed) == [STATEMENT_NAME, "logo.png"]
    assert [a.from_winmail for a in parsed.attachments] == ["winmail.dat", None]


def test_a_truncated_winmail_dat_keeps_what_came_before_the_cut_and_never_raises() -> None:
    good = tnef.winmail(*ghana_files())
    statement_end = good.index(b"%PDF")  # the letter's data starts after the statement

    for cut in range(0, len(good), max(1, len(good) // 300)):
        parsed = parsed_winmail(good[:cut])
        [record] = parsed.winmail
        kept = names(parsed)
        assert LETTER_NAME not in kept
        if cut > statement_end:
            assert kept[0] == STATEMENT_NAME
        if cut < statement_end - 1000:
            assert kept == []
        assert list(record.files) == kept


def test_random_damage_to_a_winmail_dat_never_raises_and_never_hangs() -> None:
    """Bytes overwritten anywhere (lengths, counts, types, names): parse still returns,
    each time quickly, with at most the files that were there."""
    good = tnef.winmail(*ghana_files())
    rng = random.Random(11)
    for _ in range(300):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(damaged))
            damaged[at : at + 4] = rng.randbytes(4)
        started = time.monotonic()
        parsed = parsed_winmail(bytes(damaged))
        assert time.monotonic() - started < 5
        assert len(parsed.attachments) <= 2
        assert len(parsed.winmail) == 1


def test_a_winmail_dat_that_is_not_tnef_holds_nothing_usable() -> None:
    parsed = parsed_winmail(b"GIF89a not a winmail at all" * 10)

    assert parsed.attachments == ()
    [record] = parsed.winmail
    assert record.files == ()
    assert record.problems


def test_counts_that_tnefparse_would_loop_over_are_refused_quickly() -> None:
    """A property block claiming 4 billion properties, or a multi-valued property with 4
    billion values, would keep tnefparse busy for hours: the block is not decoded, and
    the file is still taken under its short name."""
    statement = ghana_files()[0]
    huge_count = struct.pack("<I", 0xFFFFFFFF)
    multi_valued = struct.pack("<IHHI", 1, 0x1002, 0x3705, 0xFFFFFFFF)
    for block in (huge_count, multi_valued):
        winmail = tnef.tnef(
            tnef.attribute(tnef.LEVEL_ATTACHMENT, tnef.ATT_ATTACH_RENDDATA, b"\0" * 14),
            tnef.attribute(tnef.LEVEL_ATTACHMENT, tnef.ATT_ATTACH_TITLE, b"STATEM~1.DOC\0"),
            tnef.attribute(tnef.LEVEL_ATTACHMENT, tnef.ATT_ATTACH_DATA, statement.content),
            tnef.attribute(tnef.LEVEL_ATTACHMENT, tnef.ATT_ATTACHMENT, block),
        )
        started = time.monotonic()
        parsed = parsed_winmail(winmail)
        assert time.monotonic() - started < 5
        assert names(parsed) == ["STATEM~1.DOC"]
        assert parsed.attachments[0].content == statement.content


def test_an_attached_message_inside_is_ignored_and_recorded() -> None:
    statement, letter = ghana_files()
    inner = tnef.winmail(tnef.TnefFile("Other statement.docx", statement.content, DOCX))
    winmail = tnef.tnef(
        tnef.file_attachment(statement),
        tnef.embedded_message(tnef.tnef(tnef.embedded_message(inner))),
        tnef.file_attachment(letter),
    )

    parsed = parsed_winmail(winmail)

    assert names(parsed) == [STATEMENT_NAME, LETTER_NAME]
    assert any("attached message" in problem for problem in parsed.winmail[0].problems)


def test_a_winmail_dat_inside_a_winmail_dat_is_not_opened_again() -> None:
    inner = tnef.winmail(ghana_files()[0])
    parsed = parsed_winmail(tnef.winmail(tnef.TnefFile("winmail.dat", inner, TNEF_TYPE)))

    assert names(parsed) == ["winmail.dat"]
    assert parsed.attachments[0].content == inner


def test_more_files_than_the_part_limit_make_the_message_too_complex() -> None:
    limits = LimitsSettings(max_parts=10)
    files = [tnef.TnefFile(f"Annex {n}.txt", f"annex {n}".encode()) for n in range(30)]

    parsed = parsed_winmail(tnef.winmail(*files), limits=limits)

    assert len(parsed.attachments) <= limits.max_parts
    assert parsed.limits_exceeded
    assert "winmail.dat" in parsed.limits_exceeded[0]


def test_names_from_tnef_are_cleaned_like_mime_names() -> None:
    long_name = "Statement\r\nof\tGhana " + "x" * 400 + ".docx"
    parsed = parsed_winmail(tnef.winmail(tnef.TnefFile(long_name, b"PK\x03\x04", DOCX)))

    [name] = names(parsed)
    assert name is not None
    assert name.startswith("Statement of Ghana x")
    assert name.endswith(".docx")
    assert len(name) <= 255
    assert name.isprintable()


def test_the_writer_makes_tnef_that_tnefparse_reads_with_the_long_names() -> None:
    """The test helper is honest: tnefparse itself finds the files and long names."""
    files = ghana_files()
    parsed = TNEF(tnef.winmail(*files))

    assert all(obj.good_checksum for obj in parsed.objects)
    assert [a.long_filename() for a in parsed.attachments] == [STATEMENT_NAME, LETTER_NAME]
    assert [a.name for a in parsed.attachments] == ["STATEM~1.DOC", "LETTRE~1.PDF"]
    assert [a.data for a in parsed.attachments] == [f.content for f in files]
