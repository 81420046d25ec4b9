"""Hostile mail: too many parts, too deep, huge headers, names that are paths, charsets
that lie. Each is read within `[limits]`, named safely, decoded readably, and ends in a
recorded outcome with a specific reason; the run goes on.

The messages are real MIME built by the standard library's `email` package (with raw
bytes only where a generator would refuse to write the hostile form), plus the shared
corpus's attachment mails. The last test runs them through the real pipeline: Dovecot,
SMTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import io
import struct
import time
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP, compat32
from pathlib import Path

import pytest

from pipeline.checks.base import Reason
from pipeline.checks.facts import Facts, gather_facts
from pipeline.checks.limits import MessageLimits
from pipeline.decision.decide import decide
from pipeline.demo import samples
from pipeline.demo.mail import Attachment, build_email
from pipeline.documents.filetype import FileType
from pipeline.documents.types import detect_type
from pipeline.message.parse import UnreadableMessage, parse_message
from pipeline.message.parsed import ParsedMessage
from pipeline.message.structure import bound_structure
from pipeline.replies.templates import ReplyTemplates
from pipeline.settings.models import DEFAULT_DECISION_TABLE, DocumentSettings, LimitsSettings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore, safe_filename, sha256_hex
from pipeline.storage.directory import Directory
from tests.conftest import SUBMISSIONS, Intake, ny, text_of
from tests.helpers.corpus import MAIL, needs_corpus

LIMITS = LimitsSettings()
ON_TIME = ny(2021, 5, 20, 10, 0)
TEMPLATES = Path(__file__).resolve().parents[1] / "config" / "templates"


# --- Building hostile MIME --------------------------------------------------------------------


def _headed(message: Message, *, sender: str, subject: str) -> Message:
    message["From"] = sender
    message["To"] = SUBMISSIONS
    message["Subject"] = subject
    message["Message-ID"] = f"<{sha256_hex(f'{sender} {subject}'.encode())[:24]}@hostile.example>"
    return message


def many_parts(count: int, *, sender: str = "france@un.int", subject: str = "Parts") -> bytes:
    """A multipart/mixed with `count` small attachments (the stdlib's compat32 classes:
    EmailMessage takes seconds for 10,000 parts)."""
    message = _headed(MIMEMultipart(), sender=sender, subject=subject)
    for index in range(count):
        message.attach(MIMEApplication(f"part {index}".encode(), Name=f"part-{index}.bin"))
    return message.as_bytes()


def nested_multiparts(levels: int) -> bytes:
    """`levels` multiparts inside each other, a text at the bottom."""
    inner: Message = MIMEText("the bottom")
    for _ in range(levels):
        outer = MIMEMultipart()
        outer.attach(inner)
        inner = outer
    return _headed(inner, sender="france@un.int", subject="Nested").as_bytes()


def forwarded(levels: int, innermost: Message, *, sender: str = "france@un.int") -> bytes:
    """A message forwarded as an attachment, the forward forwarded, `levels` times."""
    message = innermost
    for level in range(levels):
        wrapper = MIMEMultipart()
        wrapper.attach(MIMEText(f"Forwarding, level {level}."))
        wrapper.attach(MIMEMessage(message))
        message = wrapper
    return _headed(message, sender=sender, subject="PKO-SAFETY: forwarded statement").as_bytes()


def submission_message(mission: str, sender: str) -> Message:
    return email.message_from_bytes(
        samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS)
    )


def stdlib_depth(message: Message) -> int:
    """Nesting as `[limits] max_depth` counts it: multiparts and message/* containers."""
    if not message.is_multipart():
        return 0
    parts = [part for part in message.get_payload() if isinstance(part, Message)]
    return 1 + max((stdlib_depth(part) for part in parts), default=0)


def stdlib_parts(raw: bytes) -> int:
    return len(list(email.message_from_bytes(raw).walk()))


def padded_headers(kilobytes: int, *, after: bytes = b"") -> bytes:
    """About `kilobytes` KB of harmless X- headers, then `after` (real ones)."""
    padding = b"".join(
        b"X-Padding-%d: %s\r\n" % (index, b"x" * 100) for index in range(kilobytes * 1024 // 120)
    )
    return padding + after


def with_attachment_header(header: str, content: bytes = b"data") -> bytes:
    """A message whose one attachment has exactly this Content-Disposition (compat32
    writes it as given: the hostile forms the modern generator would refuse)."""
    message = MIMEMultipart()
    _headed(message, sender="france@un.int", subject="Names")
    part = MIMEApplication(content)
    part["Content-Disposition"] = header
    message.attach(part)
    return message.as_bytes(policy=compat32)


def the_only_attachment(raw: bytes) -> tuple[ParsedMessage, str | None]:
    parsed = parse_message(raw)
    [attachment] = parsed.attachments
    return parsed, attachment.filename


def facts_for(parsed: ParsedMessage) -> Facts:
    return gather_facts(
        parsed,
        received_at=ON_TIME,
        raw_sha256="0" * 64,
        directory=Directory(),
        own_addresses=frozenset(),
        settings=DocumentSettings(),
    )


def assert_readable(text: str) -> None:
    assert text.isprintable()
    assert "\r" not in text
    assert "\n" not in text


def assert_safe(name: str) -> None:
    assert name
    assert name.isascii()
    assert name.isprintable()
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith((".", " ", "-"))
    assert not name.endswith((".", " "))
    assert len(name) <= 120
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}


# --- 1. Limits while reading -----------------------------------------------------------------


def test_an_ordinary_submission_is_within_every_limit() -> None:
    raw = samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS)
    assert bound_structure(raw, LIMITS) == (raw, ())
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.limits_exceeded == ()
    assert [a.filename for a in parsed.attachments] == [
        "Statement_France.docx",
        "Cover_letter_France.pdf",
    ]


def test_ten_thousand_parts_are_counted_cheaply_and_never_extracted() -> None:
    """The scan stops at the 201st part; mail-parser only sees the first 200."""
    raw = many_parts(10_000)
    started = time.perf_counter()
    parsed = parse_message(raw, limits=LIMITS)
    elapsed = time.perf_counter() - started

    assert parsed.limits_exceeded == ("more than 200 MIME parts",)
    assert len(parsed.attachments) == 199  # the 200th part is the message itself
    assert parsed.attachments[0].content == b"part 0"
    assert parsed.attachments[-1].content == b"part 198"
    assert elapsed < 5  # about 0.05 s; unbounded, mail-parser takes ten times longer
    assert parsed.sender == "france@un.int"


@pytest.mark.parametrize(("attachments", "exceeded"), [(9, False), (10, True)])
def test_the_part_limit_counts_parts_as_the_stdlib_does(attachments: int, exceeded: bool) -> None:
    limits = LimitsSettings(max_parts=10)
    raw = many_parts(attachments)
    assert stdlib_parts(raw) == attachments + 1
    parsed = parse_message(raw, limits=limits)
    assert parsed.limits_exceeded == (("more than 10 MIME parts",) if exceeded else ())
    assert len(parsed.attachments) == (9 if exceeded else attachments)


@pytest.mark.parametrize("kind", ["multipart", "forwarded"])
@pytest.mark.parametrize("depth", [4, 5])
def test_the_depth_limit_counts_multiparts_and_attached_messages(kind: str, depth: int) -> None:
    limits = LimitsSettings(max_depth=4)
    if kind == "multipart":
        raw = nested_multiparts(depth)
    else:
        # Each forward is two levels: a multipart holding a message/rfc822.
        bottom: Message = MIMEText("x")
        if depth == 5:
            bottom = MIMEMultipart()
            bottom.attach(MIMEText("x"))
        raw = forwarded(2, bottom)
    assert stdlib_depth(email.message_from_bytes(raw)) == depth
    parsed = parse_message(raw, limits=limits)
    exceeded = ("more than 4 levels of nesting",) if depth > limits.max_depth else ()
    assert parsed.limits_exceeded == exceeded


def test_a_nest_deeper_than_python_can_parse_is_too_complex_not_unreadable() -> None:
    """50,000 nested multiparts would overflow the stdlib parser's recursion; the scan
    stops at level 11 and the message is refused for what it is."""
    levels = 50_000
    opening = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(levels)
    )
    closing = b"".join(b"\r\n--b%d--" % i for i in reversed(range(levels)))
    raw = b"From: france@un.int\r\nSubject: deep\r\n" + opening + b"\r\nbottom" + closing
    started = time.perf_counter()
    parsed = parse_message(raw, limits=LIMITS)
    assert time.perf_counter() - started < 5
    assert parsed.limits_exceeded == ("more than 10 levels of nesting",)
    assert parsed.sender == "france@un.int"


def test_a_300_kb_header_block_keeps_who_sent_it_and_what_about() -> None:
    """Over 256 KB of headers: the headers that fit are kept, and From, Subject and the
    other essential headers even when they come after the padding."""
    header = padded_headers(300, after=b"From: Ghana <ghana@un.int>\r\nSubject: PKO-SAFETY\r\n")
    raw = header + b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.limits_exceeded == ("headers larger than 256 KB",)
    assert parsed.sender == "ghana@un.int"
    assert parsed.subject == "PKO-SAFETY"
    assert (
        sum(len(name) + len(value) for name, values in parsed.headers.items() for value in values)
        < 300 * 1024
    )


def test_one_header_line_over_the_limit_is_dropped_or_shortened() -> None:
    junk = b"X-Junk: " + b"j" * 20_000 + b"\r\n"
    long_subject = b"Subject: PKO-SAFETY " + b" ".join([b"word"] * 5000) + b"\r\n"
    raw = b"From: france@un.int\r\n" + junk + long_subject + b"\r\nbody\r\n"
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.limits_exceeded == ("a header line longer than 16 KB",)
    assert "x-junk" not in parsed.headers
    assert parsed.subject.startswith("PKO-SAFETY word word")
    assert len(parsed.subject) <= 998


def test_a_header_block_that_never_ends_is_read_only_so_far() -> None:
    raw = b"From: france@un.int\r\nSubject: endless\r\n" + b"X-More: yes\r\n" * 700_000
    started = time.perf_counter()
    parsed = parse_message(raw, limits=LIMITS)
    assert time.perf_counter() - started < 5
    assert parsed.limits_exceeded == ("headers larger than 256 KB",)
    assert parsed.sender == "france@un.int"
    assert parsed.attachments == ()


def test_the_header_limits_apply_to_every_part() -> None:
    limits = LimitsSettings(max_header_kb=8, max_header_line_kb=1)
    message = MIMEMultipart()
    _headed(message, sender="france@un.int", subject="Part headers")
    fine = MIMEApplication(b"first", Name="first.bin")
    message.attach(fine)
    noisy = MIMEApplication(b"second", Name="second.bin")
    noisy["X-Note"] = "n" * 2000
    message.attach(noisy)
    parsed = parse_message(message.as_bytes(), limits=limits)
    assert parsed.limits_exceeded == ("a header line longer than 1 KB",)
    assert [a.content for a in parsed.attachments] == [b"first"]


def test_parts_before_the_limit_keep_their_exact_bytes() -> None:
    limits = LimitsSettings(max_parts=5)
    message = MIMEMultipart()
    _headed(message, sender="france@un.int", subject="Some files")
    contents = [bytes([index]) * (index + 1) for index in range(10)]
    for index, content in enumerate(contents):
        message.attach(MIMEApplication(content, Name=f"file-{index}.bin"))
    parsed = parse_message(message.as_bytes(), limits=limits)
    assert [a.content for a in parsed.attachments] == contents[:4]
    assert [a.filename for a in parsed.attachments] == [f"file-{i}.bin" for i in range(4)]


def _hidden_structures() -> Iterator[tuple[str, bytes]]:
    parts = 300
    # Bare CR ends a line for the stdlib parser, so it ends a boundary line too.
    body = b"".join(b"--cr\rContent-Type: text/plain\r\rpart %d\r" % i for i in range(parts))
    yield (
        "bare CR line ends",
        b"From: a@b.example\rContent-Type: multipart/mixed; boundary=cr\r\r" + body + b"--cr--\r",
    )
    # multipart/digest parts are message/rfc822 without saying so.
    digest = b"".join(b"--d\r\n\r\nSubject: inner %d\r\n\r\ntext\r\n" % i for i in range(parts))
    yield (
        "digest",
        b"From: a@b.example\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n"
        + digest
        + b"--d--\r\n",
    )
    # A closing boundary before any part: mail-parser re-parses the epilogue.
    inner = many_parts(parts).replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
    yield (
        "epilogue recovered by mail-parser",
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=e\r\n\r\n"
        b"--e--\r\nx --e\r\n" + inner + b"\r\n--e--\r\n",
    )
    # A delivery report's header blocks are parts too.
    blocks = b"".join(b"Final-Recipient: rfc822; r%d@b.example\r\n\r\n" % i for i in range(parts))
    yield (
        "delivery report",
        b"From: a@b.example\r\nContent-Type: multipart/report; boundary=r\r\n\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\n" + blocks + b"--r--\r\n",
    )


@pytest.mark.parametrize(("name", "raw"), list(_hidden_structures()), ids=lambda v: str(v)[:30])
def test_structure_hidden_from_a_naive_scan_is_counted(name: str, raw: bytes) -> None:
    """The scan sees lines and parts as the stdlib parser will, tricks included."""
    to_parse, exceeded = bound_structure(raw, LIMITS)
    assert exceeded == ("more than 200 MIME parts",), name
    assert stdlib_parts(to_parse) <= LIMITS.max_parts
    parse_message(raw, limits=LIMITS)


def test_a_boundary_reused_inside_belongs_to_the_outer_multipart() -> None:
    """`--b1--` separates the outer multipart (boundary `b1--`) before it can close the
    inner one (boundary `b1`): the stdlib reads it so, and so must the count (found by
    tests/test_fuzz_messages.py)."""
    raw = (
        b'From: france@un.int\r\nContent-Type: multipart/mixed; boundary="b1--"\r\n\r\n'
        b'--b1--\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1--\r\nContent-Type: text/plain\r\n\r\nthird\r\n"
    )
    assert stdlib_parts(raw) == 3
    assert bound_structure(raw, LimitsSettings(max_parts=3))[1] == ()
    to_parse, exceeded = bound_structure(raw, LimitsSettings(max_parts=2))
    assert exceeded == ("more than 2 MIME parts",)
    assert stdlib_parts(to_parse) <= 2


def test_the_check_rejects_and_the_reply_says_what_to_send_instead() -> None:
    verdict = MessageLimits().check(facts_for(parse_message(many_parts(300), limits=LIMITS)))
    assert verdict.reasons == (
        Reason("message_too_complex", {"exceeded": "more than 200 MIME parts"}),
    )
    result = decide(verdict.reasons, DEFAULT_DECISION_TABLE)
    assert result.outcome is m.MessageOutcome.REJECTED
    text = ReplyTemplates(TEMPLATES).reason_text("message_too_complex", result.reasons[0].params)
    assert "more than 200 MIME parts" in text
    assert "statement" in text
    assert "cover letter" in text
    assert "plain attachments" in " ".join(text.split())


def test_several_limits_are_named_together() -> None:
    raw = padded_headers(300, after=b"From: france@un.int\r\n") + b"\r\n" + b"body"
    raw = raw.replace(b"X-Padding-0: ", b"X-Long: " + b"l" * 20_000 + b" ", 1)
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.limits_exceeded == (
        "headers larger than 256 KB",
        "a header line longer than 16 KB",
    )

    [reason] = MessageLimits().check(facts_for(parsed)).reasons
    assert reason.params == {
        "exceeded": "headers larger than 256 KB and a header line longer than 16 KB"
    }


# --- 2. Names -------------------------------------------------------------------------------

SAFE_NAMES = [
    ("../../etc/passwd", "etc_passwd"),
    ("..\\..\\win.ini", "win.ini"),
    ("/etc/shadow", "etc_shadow"),
    ("C:\\Users\\desk\\Statement.docx", "C_Users_desk_Statement.docx"),
    ("Statement 24/05/2021.docx", "Statement 24_05_2021.docx"),
    ("Sta\x00te\x07ment.docx", "Statement.docx"),
    ("evil\u202excod.docx", "evilxcod.docx"),
    ("Déclaration de la République.docx", "Declaration de la Republique.docx"),
    ("بيان.docx", "statement.docx"),
    ("...", "statement"),
    ("", "statement"),
    (None, "statement"),
    (".docx", "statement.docx"),
    ("file.", "file"),
    ("CON", "CON_"),
    ("con.docx", "con_.docx"),
    ("nul.tar.gz", "nul_.tar.gz"),
    ("LPT1.pdf", "LPT1_.pdf"),
    ("CONSOLE.docx", "CONSOLE.docx"),
    ("a.verylongextension", "a.verylongextension"),
]


@pytest.mark.parametrize(("name", "expected"), SAFE_NAMES)
def test_safe_filename(name: str | None, expected: str) -> None:
    result = safe_filename(name, fallback="statement")
    assert result == expected
    assert_safe(result)


def test_a_very_long_name_keeps_its_extension() -> None:
    name = "Statement of the Permanent Mission " * 20 + ".docx"
    result = safe_filename(name)
    assert 110 < len(result) <= 120
    assert result.endswith(".docx")
    assert_safe(result)


def test_path_names_from_real_mime_are_kept_as_labels_and_stored_safely() -> None:
    for name, safe in [
        ("../../etc/passwd", "etc_passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("/etc/shadow", "etc_shadow"),
        ("C:\\fakepath\\Statement.docx", "C_fakepath_Statement.docx"),
    ]:
        message = EmailMessage(policy=SMTP)
        message["From"] = "france@un.int"
        message["Subject"] = "Names"
        message.set_content("See attached.")
        message.add_attachment(b"data", maintype="application", subtype="pdf", filename=name)
        _, filename = the_only_attachment(message.as_bytes())
        assert filename == name
        assert safe_filename(filename) == safe


def test_control_characters_and_line_breaks_leave_the_name() -> None:
    raw = with_attachment_header("attachment; filename*=utf-8''Sta%00te%07ment%0D%0A%09.docx")
    _, filename = the_only_attachment(raw)
    assert filename == "Statement .docx"


def test_rfc_2231_names_with_continuations_are_decoded() -> None:
    name = "Déclaration de la République française au Conseil de sécurité " * 3 + ".docx"
    message = EmailMessage(policy=SMTP)
    message["From"] = "france@un.int"
    message["Subject"] = "Names"
    message.set_content("See attached.")
    message.add_attachment(b"data", maintype="application", subtype="pdf", filename=name)
    raw = message.as_bytes()
    assert b"filename*0*=utf-8''" in raw
    assert b"filename*1*=" in raw
    _, filename = the_only_attachment(raw)
    assert filename == name.strip()


@pytest.mark.parametrize(
    ("header", "expected", "damaged"),
    [
        ('attachment; filename="=?utf-8?b?RMOpY2xhcmF0aW9uLmRvY3g=?="', "Déclaration.docx", False),
        (
            'attachment; filename="=?utf-8?q?D=C3=A9claration?= =?utf-8?q?.docx?="',
            "Déclaration.docx",
            False,
        ),
        # Outlook splits a character's bytes across two encoded words.
        (
            'attachment; filename="=?utf-8?b?RMM=?= =?utf-8?b?qWNsYXJhdGlvbi5kb2N4?="',
            "Déclaration.docx",
            False,
        ),
        ('attachment; filename="=?x-unknown?q?D=E9claration.docx?="', "Déclaration.docx", True),
        ('attachment; filename="=?utf-8?q?D=E9claration.docx?="', "Déclaration.docx", True),
        ('attachment; filename="=?utf-8?b?!!!?=.docx"', "=?utf-8?b?!!!?=.docx", True),
        ("attachment; filename*=x-unknown''D%E9claration.docx", "Déclaration.docx", True),
        ("attachment; filename*=iso-8859-1''D%E9claration.docx", "Déclaration.docx", False),
    ],
)
def test_encoded_names_are_decoded_for_people(header: str, expected: str, damaged: bool) -> None:
    parsed, filename = the_only_attachment(with_attachment_header(header))
    assert filename == expected
    assert bool(parsed.decoding_problems) is damaged


def test_8_bit_names_are_read_as_utf_8_or_windows_1252() -> None:
    for raw_name, expected in [
        ("Déclaration.docx".encode(), "Déclaration.docx"),
        ("Déclaration.docx".encode("latin-1"), "Déclaration.docx"),
    ]:
        raw = with_attachment_header("attachment; filename=PLACEHOLDER")
        raw = raw.replace(b"PLACEHOLDER", b'"' + raw_name + b'"')
        _, filename = the_only_attachment(raw)
        assert filename == expected


def test_a_name_of_thousands_of_characters_is_bounded_with_its_extension() -> None:
    name = "x" * 5000 + ".docx"
    raw = with_attachment_header(f'attachment; filename="{name}"')
    _, filename = the_only_attachment(raw)
    assert filename is not None
    assert len(filename) == 255
    assert filename.endswith(".docx")


@needs_corpus
def test_the_corpus_attachment_names_are_readable_and_stored_safely() -> None:
    files = sorted((MAIL / "mikel" / "attachment_emails").glob("*.eml"))
    assert len(files) > 10
    names: dict[str, list[str | None]] = {}
    for path in files:
        parsed = parse_message(path.read_bytes(), limits=LIMITS)
        names[path.name] = [a.filename for a in parsed.attachments]
        for attachment in parsed.attachments:
            if attachment.filename is not None:
                assert_readable(attachment.filename)
                assert len(attachment.filename) <= 255
            assert_safe(safe_filename(attachment.filename))
    assert names["attachment_nonascii_filename.eml"] == ["ciële.txt"]
    assert names["attachment_with_base64_encoded_name.eml"] == ["This is a test.pdf"]
    assert names["attachment_with_quoted_filename.eml"] == ["Eelanalüüsi päring.jpg"]
    # iso-2022-jp with a byte that is not: replaced, not dropped.
    assert names["attachment_with_encoded_name.eml"] == ["01 Quien Te Dij\ufffdat. Pitbull.mp3"]


def _docx_with_broken_deflate() -> bytes:
    """A real statement whose [Content_Types].xml has an invalid deflate block."""
    data = bytearray(samples.submission_attachments(mission_name="France")[0].content)
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("[Content_Types].xml")
    name_length, extra_length = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    data[info.header_offset + 30 + name_length + extra_length] = 0xFF  # block type 3
    return bytes(data)


def test_a_docx_with_broken_compression_gets_a_type_not_an_exception() -> None:
    assert detect_type(_docx_with_broken_deflate()) is FileType.ZIP


# --- 3. Charsets that lie ----------------------------------------------------------------------

SUBJECTS = [
    (b"Subject: D\xe9claration de la France\r\n", "Déclaration de la France", True),
    (b"Subject: D\xc3\xa9claration de la France\r\n", "Déclaration de la France", False),
    (
        b"Subject: =?utf-8?b?!!!notbase64?= PKO-SAFETY\r\n",
        "=?utf-8?b?!!!notbase64?= PKO-SAFETY",
        True,
    ),
    (b"Subject: =?utf-8?q?caf=C3?= PKO-SAFETY\r\n", "caf\ufffd PKO-SAFETY", True),
    (b"Subject: =?x-unknown?q?D=C3=A9claration?=\r\n", "Déclaration", True),
    (b"Subject: =?x-unknown?q?D=E9claration?=\r\n", "Déclaration", True),
    (b"Subject: =?base64?q?abc?=\r\n", "abc", True),
    (b"Subject: =?us-ascii?q?D=E9claration?=\r\n", "Déclaration", True),
    (b"Subject: Re: =?utf-8?q?Stat?=\r\n =?utf-8?q?ement?=\r\n", "Re: Statement", False),
]


@pytest.mark.parametrize(("header", "expected", "damaged"), SUBJECTS)
def test_subjects_come_out_readable_and_damage_is_recorded(
    header: bytes, expected: str, damaged: bool
) -> None:
    raw = b"From: france@un.int\r\nTo: " + SUBMISSIONS.encode() + b"\r\n" + header + b"\r\nHi\r\n"
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.subject == expected
    assert_readable(parsed.subject)
    assert any(p.startswith("subject:") for p in parsed.decoding_problems) is damaged


def test_a_sender_name_in_8_bit_latin_1_is_readable() -> None:
    raw = b"From: Fran\xe7ois Delattre <france@un.int>\r\nSubject: x\r\n\r\nHi\r\n"
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.sender_name == "François Delattre"
    assert parsed.sender == "france@un.int"


def _lying_parts() -> bytes:
    """Text parts and attachments whose charset labels do not match their bytes."""
    message = MIMEMultipart()
    _headed(message, sender="france@un.int", subject="Lies")
    parts = [
        ("text/plain; charset=us-ascii", None, "Déclaration".encode()),
        ("text/plain; charset=us-ascii", None, "Déclaration".encode("latin-1")),
        ("text/plain; charset=x-unknown", None, "Déclaration".encode()),
        ("text/plain; charset=us-ascii", "ascii-utf8.txt", "Déclaration".encode()),
        ("text/plain; charset=us-ascii", "ascii-latin1.txt", "Déclaration".encode("latin-1")),
        ("text/plain; charset=x-unknown", "unknown.txt", b"\xff\xfe\x00D\x00\xe9"),
    ]
    for content_type, name, content in parts:
        part = Message()
        part["Content-Type"] = content_type
        part["Content-Transfer-Encoding"] = "8bit"
        if name:
            part["Content-Disposition"] = f'attachment; filename="{name}"'
        part.set_payload(content)
        message.attach(part)
    return message.as_bytes(policy=compat32)


def test_charsets_that_lie_never_raise_and_attachments_keep_their_bytes() -> None:
    parsed = parse_message(_lying_parts(), limits=LIMITS)
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("ascii-utf8.txt", "Déclaration".encode()),
        ("ascii-latin1.txt", "Déclaration".encode("latin-1")),
        ("unknown.txt", b"\xff\xfe\x00D\x00\xe9"),
    ]
    assert any("CharsetDecodeDefect" in p for p in parsed.decoding_problems)


def test_headers_with_8_bit_bytes_stay_readable() -> None:
    raw = (
        b"From: france@un.int\r\nSubject: ok\r\nX-Note: \xe9t\xe9 \xff\xfe\r\n"
        b"Comments: \xc3\xa9t\xc3\xa9\r\n\r\nHi\r\n"
    )
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.first_header("x-note") == "été ÿþ"
    assert parsed.first_header("comments") == "été"


@pytest.mark.parametrize(
    "raw",
    [
        # mail-parser's address parser raises on a broken encoded word in From.
        b"From: =?utf-8?b?QUJDR?= <france@un.int>\r\nSubject: s\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="letter.pdf"\r\n\r\n%PDF-1.4\r\n--b--\r\n',
        # The stdlib raises on an RFC 2231 name in a charset that cannot replace.
        b"From: france@un.int\r\nSubject: s\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=idna''%FF.pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n",
        # A missing start boundary under a top that is not multipart: mail-parser fails
        # looking for the top's epilogue.
        b"From: france@un.int\r\nSubject: s\r\nContent-Type: message/rfc822\r\n\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\nno boundary at all\r\n",
    ],
    ids=["broken From", "idna name", "no start boundary"],
)
def test_what_mail_parser_cannot_read_is_read_with_the_stdlib(raw: bytes) -> None:
    parsed = parse_message(raw, limits=LIMITS)
    assert parsed.sender == "france@un.int"
    assert any("mail-parser could not read it" in p for p in parsed.decoding_problems)
    for attachment in parsed.attachments:
        assert attachment.content.startswith(b"%PDF")
        if attachment.filename is not None:
            assert_readable(attachment.filename)


def test_bytes_that_are_not_mail_are_unreadable_or_read_never_anything_else() -> None:
    for raw in (b"", b"\x00" * 100, b"\xff\xfe" * 50, b"--\r\n" * 100, b":" * 1000):
        try:
            parsed = parse_message(raw, limits=LIMITS)
        except UnreadableMessage:
            continue
        assert_readable(parsed.subject)


# --- 4. Through the real pipeline ------------------------------------------------------------


def _lying_submission() -> bytes:
    """The Holy See's statement and letter, in a message whose labels lie: an 8-bit
    Latin-1 subject with a broken encoded word, a us-ascii text over UTF-8 bytes, and
    the statement's name in an encoded word of an unknown charset."""
    raw = samples.submission_email(
        mission_name="Holy See",
        sender="holysee@un.int",
        to=SUBMISSIONS,
        subject="SUBJECT-PLACEHOLDER",
        body="Déclaration du Saint-Siège\n",
        statement_filename="Statement_Holy_See.docx",
    )
    raw = raw.replace(
        b"Subject: SUBJECT-PLACEHOLDER",
        b"Subject: PKO-SAFETY: D\xe9claration du Saint-Si\xe8ge =?utf-8?b?!!?=",
    )
    raw = raw.replace(b'charset="utf-8"', b'charset="us-ascii"', 1)
    return raw.replace(
        b'filename="Statement_Holy_See.docx"',
        b'filename="=?x-unknown?q?D=E9claration_Saint-Si=E8ge.docx?="',
    )


def _reserved_and_control_names() -> bytes:
    """The EU's statement named `CON` with a NUL, its letter named `/etc/passwd`."""
    attachments = samples.submission_attachments(mission_name="European Union")
    message = MIMEMultipart()
    _headed(message, sender="delegation@eeas.europa.eu", subject="PKO-SAFETY statement")
    message.attach(MIMEText("Please find attached our statement and letter."))
    for attachment, header in zip(
        attachments,
        ["attachment; filename*=utf-8''CON%00.docx", 'attachment; filename="/etc/passwd"'],
        strict=True,
    ):
        subtype = attachment.content_type.partition("/")[2]
        part = MIMEApplication(attachment.content, _subtype=subtype)
        part["Content-Disposition"] = header
        message.attach(part)
    return message.as_bytes(policy=compat32)


def _same_names() -> bytes:
    """Brazil sends two different statements, both named Statement.docx."""
    attachments = samples.submission_attachments(mission_name="Brazil")
    other = samples.submission_attachments(mission_name="Brazil", words=200)[0]
    return build_email(
        sender="brazil@un.int",
        to=SUBMISSIONS,
        subject="PKO-SAFETY: statement",
        attachments=[
            Attachment("Statement.docx", attachments[0].content, attachments[0].content_type),
            Attachment("Statement.docx", other.content, other.content_type),
            attachments[1],
        ],
    )


def _path_names() -> bytes:
    return samples.submission_email(
        mission_name="Japan",
        sender="japan@un.int",
        to=SUBMISSIONS,
        statement_filename="../../../etc/Statement_Japan.docx",
        cover_filename="..\\..\\Windows\\Cover_letter_Japan.pdf",
    )


@pytest.mark.slow
def test_hostile_mail_through_the_real_pipeline(intake: Intake) -> None:
    """GIVEN hostile messages from registered missions among good ones WHEN one run reads
    them THEN each is filed with an outcome and a specific reason, nothing is held
    because the code broke, the run goes on to the good message after them, and every
    stored file is inside the storage directory."""
    forwarded_statement = forwarded(
        12, submission_message("Côte d'Ivoire", "cotedivoire@un.int"), sender="cotedivoire@un.int"
    )
    ghana = samples.submission_email(mission_name="Ghana", sender="ghana@un.int", to=SUBMISSIONS)
    ghana = padded_headers(300) + ghana
    hostile = {
        "france@un.int": many_parts(10_000, subject="PKO-SAFETY: statement of France"),
        "cotedivoire@un.int": forwarded_statement,
        "ghana@un.int": ghana,
        "japan@un.int": _path_names(),
        "brazil@un.int": _same_names(),
        "holysee@un.int": _lying_submission(),
        "delegation@eeas.europa.eu": _reserved_and_control_names(),
    }
    for raw in hostile.values():
        intake.deliver(raw, at=ON_TIME)
    good = samples.submission_email(
        mission_name="France", sender="france@un.int", to=SUBMISSIONS, subject="PKO-SAFETY again"
    )
    intake.deliver(good, at=ny(2021, 5, 20, 11, 0))
    before = {p for p in intake.tmp_path.rglob("*") if p.is_file()}

    report = intake.run()

    ledger = intake.ledger()
    assert report.processed == len(hostile) + 1
    assert intake.inbox == []
    assert all(r.moved_at is not None for r in ledger)
    assert [r.uid for r in ledger if r.failed_stage is not None] == []
    outcome = {(r.sender, r.outcome.value, r.reason) for r in ledger}
    assert outcome == {
        ("france@un.int", "rejected", "message_too_complex"),
        ("cotedivoire@un.int", "rejected", "message_too_complex"),
        ("ghana@un.int", "rejected", "message_too_complex"),
        ("japan@un.int", "accepted", None),
        ("brazil@un.int", "rejected", "several_statements"),
        ("holysee@un.int", "accepted", None),
        ("delegation@eeas.europa.eu", "accepted", None),
        ("france@un.int", "accepted", None),
    }
    subjects = {r.sender: r.subject or "" for r in ledger}
    assert subjects["holysee@un.int"].startswith("PKO-SAFETY: Déclaration du Saint-Siège")
    for subject in subjects.values():
        assert_readable(subject)

    # The rejection says what was too much and what to send instead.
    intake.replies(len(hostile) + 1)
    [too_complex] = intake.replies_to("ghana@un.int")
    assert "headers larger than 256 KB" in text_of(too_complex)
    assert "plain attachments" in text_of(too_complex)
    france = [text_of(reply) for reply in intake.replies_to("france@un.int")]
    assert len(france) == 2
    assert any("more than 200 MIME parts" in text for text in france)

    documents = intake.rows(m.Document)
    names = {d.safe_name for d in documents}
    assert {"etc_Statement_Japan.docx", "Windows_Cover_letter_Japan.pdf"} <= names
    assert {"Statement.docx", "Statement-2.docx"} <= names  # Brazil's two, both kept
    assert {"CON_.docx", "etc_passwd"} <= names
    assert "Déclaration Saint-Siège.docx" in {d.filename for d in documents}
    # Of France's 10,000 parts, none past the limit was extracted and stored.
    assert sum(d.safe_name.startswith("part-") for d in documents) == 199
    for document in documents:
        assert_safe(document.safe_name)
        assert_readable(document.filename)

    # Every stored file is inside the storage directory, under its content's hash.
    storage = intake.settings.storage_path.resolve()
    blobs = BlobStore(intake.settings.storage_path)
    for document in documents:
        path = blobs.path_for(document.sha256).resolve()
        assert path.is_relative_to(storage)
        assert sha256_hex(path.read_bytes()) == document.sha256
    for path in intake.tmp_path.rglob("*"):
        if path.is_file() and path not in before:
            resolved = path.resolve()
            assert resolved.is_relative_to(storage) or resolved.name.startswith("intake.db")

    # The next run finds nothing left to do.
    assert intake.run().processed == 0
