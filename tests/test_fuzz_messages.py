"""Property-based: whatever bytes arrive, reading and judging them ends in an outcome.

Messages are generated (random headers with odd encodings, random MIME trees within
and beyond `[limits]`, attachments that are real Word and PDF files from
`pipeline.demo.samples`, damaged ones and noise) or made by damaging real submissions
at random byte positions. For every input:

- `parse_message` returns a `ParsedMessage` or raises `UnreadableMessage`, nothing else;
- what it hands to mail-parser never has more parts or deeper nesting than the limits
  allow, counted by the standard library's own parser (so the scan is not fooled);
- names and subjects are one printable line, names at most 255 characters;
- `gather_facts`, the configured checks and `decide` end in a `DecisionResult` with an
  outcome, and a message over a limit is refused as `message_too_complex`.

With `CI=true` the examples are derandomized, so a CI run is reproducible.
"""

from __future__ import annotations

import base64
import email
import os
import quopri
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import Message
from functools import cache, partial

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from pipeline.checks.facts import gather_facts
from pipeline.checks.registry import KNOWN_REASONS, checks_for
from pipeline.decision.decide import DecisionResult, decide, run_checks
from pipeline.demo import samples
from pipeline.domain import Action, MeetingStatus
from pipeline.message.parse import UnreadableMessage, parse_message
from pipeline.message.parsed import ParsedMessage
from pipeline.message.structure import bound_structure
from pipeline.missions.registry import MissionKind
from pipeline.settings.models import DocumentSettings, LimitsSettings, Settings
from pipeline.storage.blobs import safe_filename
from pipeline.storage.directory import Directory, MeetingRef, MissionRef
from pipeline.storage.models import MessageOutcome
from tests.conftest import add_figures

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# A failing example of a megabyte is still worth seeing, whatever its repr costs.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

FUZZ = settings(
    deadline=None,
    derandomize=IN_CI,
    database=None,  # no .hypothesis/ folder in the checkout; a failure prints its example
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

SETTINGS = Settings()
CHECKS = checks_for(SETTINGS.checks)
# Conversion starts LibreOffice: seconds per file, and not what is tested here.
DOCUMENTS = DocumentSettings(convert_legacy=False)
RECEIVED = datetime(2021, 5, 20, 14, 0, tzinfo=UTC)
FRANCE = MissionRef(id=1, code="FRA", name="France", kind=MissionKind.MEMBER_STATE)
MEETING = MeetingRef(
    id=1,
    code="PKO-SAFETY",
    title="United Nations peacekeeping operations",
    date=date(2021, 5, 24),
    timezone="America/New_York",
    deadline=datetime(2021, 5, 22, 3, 59, tzinfo=UTC),
    word_limit=500,
    status=MeetingStatus.OPEN,
)
DIRECTORY = Directory(by_address={"france@un.int": FRANCE}, meetings=(MEETING,))
SUBMISSIONS = "submissions@intake.example"


# --- What every input must come to ------------------------------------------------------------


def _stdlib_shape(message: Message) -> tuple[int, int]:
    """(parts, depth) as the standard library's parser built them."""
    parts, depth = 1, 0
    if message.is_multipart():
        children = [p for p in message.get_payload() if isinstance(p, Message)]
        shapes = [_stdlib_shape(child) for child in children]
        parts += sum(p for p, _ in shapes)
        depth = 1 + max((d for _, d in shapes), default=0)
    return parts, depth


def _assert_bounded(raw: bytes, limits: LimitsSettings) -> None:
    """What mail-parser will parse is within the limits, as the stdlib counts."""
    to_parse, exceeded = bound_structure(raw, limits)
    if not exceeded:
        assert to_parse == raw
    try:
        message = email.message_from_bytes(to_parse)
    except RecursionError:  # pragma: no cover - would mean the depth limit failed
        raise AssertionError("the bounded message is still too deep for the stdlib") from None
    parts, depth = _stdlib_shape(message)
    assert parts <= limits.max_parts
    assert depth <= limits.max_depth


def _assert_readable(parsed: ParsedMessage) -> None:
    assert parsed.subject.isprintable()
    for attachment in parsed.attachments:
        name = attachment.filename
        if name is not None:
            assert name.isprintable()
            assert 0 < len(name) <= 255
        safe = safe_filename(name)
        assert safe.isascii()
        assert safe.isprintable()
        assert "/" not in safe
        assert "\\" not in safe
        assert not safe.startswith(".")


# What every input tried in this module ended as: printed in the run's "figures".
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_the_tally() -> Iterator[None]:
    yield
    if TALLY:
        tried = TALLY["messages"]
        ended = {k: v for k, v in sorted(TALLY.items()) if k != "messages"}
        add_figures(
            "tests/test_fuzz_messages.py",
            f"hypothesis: {tried} messages tried, {tried - sum(ended.values())} without an "
            "outcome; " + ", ".join(f"{k} {v}" for k, v in ended.items()),
        )


def note(text: str) -> None:
    """Count it in `--hypothesis-show-statistics` (outside a property: nowhere)."""
    if text.startswith(("outcome: ", "unreadable")):
        TALLY[text.removeprefix("outcome: ")] += 1
    if currently_in_test_context():
        event(text)


def outcome_of(raw: bytes, limits: LimitsSettings) -> DecisionResult | None:
    """Read and judge one message as the worker does; None when it is unreadable."""
    TALLY["messages"] += 1
    _assert_bounded(raw, limits)
    try:
        parsed = parse_message(raw, limits=limits)
    except UnreadableMessage:
        note("unreadable")
        return None  # the worker files it as held, stage "parse"
    _assert_readable(parsed)
    assert len(parsed.attachments) < limits.max_parts
    facts = gather_facts(
        parsed,
        received_at=RECEIVED,
        raw_sha256="0" * 64,
        directory=DIRECTORY,
        own_addresses=frozenset({SUBMISSIONS}),
        settings=DOCUMENTS,
    )
    result = decide(run_checks(CHECKS, facts), SETTINGS.decision)
    note(f"outcome: {result.outcome.value}")
    for phrase in parsed.limits_exceeded:
        note(f"over a limit: {phrase.split()[-1]}")
    if any("mail-parser could not" in p for p in parsed.decoding_problems):
        note("read by the stdlib alone")
    assert isinstance(result.outcome, MessageOutcome)
    assert set(result.codes) <= KNOWN_REASONS
    if parsed.limits_exceeded and result.outcome is not MessageOutcome.IGNORED:
        assert "message_too_complex" in result.codes
        assert result.outcome in (MessageOutcome.REJECTED, MessageOutcome.HELD)
    if result.outcome is MessageOutcome.ACCEPTED:
        assert all(r.action is Action.NOTE for r in result.reasons)
    return result


# --- Ingredients --------------------------------------------------------------------------------


@cache
def documents() -> dict[str, bytes]:
    """Real files, made once: a statement, letters as PDF and Word."""
    statement, letter = samples.submission_attachments(mission_name="France")
    word_letter = samples.submission_attachments(
        mission_name="France", statement=False, cover_letter="docx"
    )[0]
    return {
        "statement.docx": statement.content,
        "letter.pdf": letter.content,
        "letter.docx": word_letter.content,
    }


@cache
def real_submissions() -> tuple[bytes, ...]:
    """Real submissions to damage: Word and PDF, with an HTML body, French."""
    france = partial(
        samples.submission_email, mission_name="France", sender="france@un.int", to=SUBMISSIONS
    )
    return (
        france(),
        france(cover_letter="docx", html=True),
        france(language="fr", words=120),
        france(statement_as_pdf=True),
    )


CHARSETS = [
    "utf-8",
    "UTF-8",
    "iso-8859-1",
    "us-ascii",
    "x-unknown",
    "shift_jis",
    "iso-2022-jp",
    "utf-16",
    "utf-7",
    "base64",
    "idna",
    "koi8-r",
    "windows-1252",
    "",
]
NAMES = [
    "Statement.docx",
    "Cover letter.pdf",
    "../../etc/passwd",
    "..\\..\\win.ini",
    "/etc/shadow",
    "C:\\fakepath\\statement.docx",
    "CON",
    "nul.docx",
    "...",
    "",
    ".docx",
    "Déclaration de la République.docx",
    "بيان.docx",
    "evil\u202excod.docx",
    "x" * 400 + ".docx",
]
TOKENS = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"\r\n--",
    b"--",
    b"\x00",
    b"\xff\xfe",
    b"=?utf-8?b?",
    b"?=",
    b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n',
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n",
    b"Content-Type: message/delivery-status\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"filename*0*=utf-8''%C3%A9; filename*1*=%00.docx",
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes, *, most: int = 6) -> bytes:
    """Damage: bytes flipped, removed, inserted (tokens that matter to MIME, or noise),
    a slice repeated, the end cut off."""
    result = bytearray(data)
    for _ in range(draw(st.integers(1, most))):
        position = draw(st.integers(0, len(result)))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "token", "repeat", "truncate"]))
        if kind == "flip" and position < len(result):
            result[position] ^= draw(st.integers(1, 255))
        elif kind == "delete":
            del result[position : position + draw(st.integers(1, 64))]
        elif kind == "insert":
            result[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "token":
            result[position:position] = draw(st.sampled_from(TOKENS))
        elif kind == "repeat":
            piece = bytes(result[position : position + draw(st.integers(1, 200))])
            result[position:position] = piece * draw(st.integers(1, 20))
        elif kind == "truncate":
            del result[position:]
    return bytes(result)


@st.composite
def encoded_words(draw: st.DrawFn) -> bytes:
    charset = draw(st.sampled_from(CHARSETS)).encode()
    data = draw(st.binary(max_size=24) | st.text(max_size=12).map(str.encode))
    if draw(st.booleans()):
        payload = base64.b64encode(data)
        if draw(st.booleans()):
            payload = payload[: draw(st.integers(0, len(payload)))]
        encoding = b"B"
    else:
        payload = quopri.encodestring(data, header=True).replace(b"=\n", b"")
        encoding = b"Q"
    return b"=?" + charset + b"?" + encoding + b"?" + payload + b"?="


header_values = st.lists(
    st.one_of(
        st.text(max_size=20).map(str.encode),
        st.binary(max_size=20).filter(lambda b: b"\n" not in b and b"\r" not in b),
        encoded_words(),
        st.sampled_from([b"PKO-SAFETY", b"Statement", b"=?", b"?=", b"\xe9t\xe9"]),
    ),
    max_size=6,
).map(b" ".join)


@st.composite
def filename_params(draw: st.DrawFn) -> bytes:
    """A name parameter in one of the forms mail really uses, right or wrong."""
    name = draw(st.sampled_from(NAMES) | st.text(max_size=30))
    encoded = name.encode("utf-8")
    form = draw(st.sampled_from(["quoted", "2047", "2231", "continued", "8bit", "name"]))
    if form == "quoted":
        return b'filename="' + encoded.replace(b'"', b"") + b'"'
    if form == "2047":
        return b'filename="' + draw(encoded_words()) + b'"'
    if form == "8bit":
        return b'filename="' + name.encode("latin-1", "replace") + b'"'
    charset = draw(st.sampled_from(CHARSETS)).encode()
    quoted = "".join(f"%{byte:02X}" for byte in encoded).encode()
    if form == "2231":
        return b"filename*=" + charset + b"''" + quoted
    if form == "continued":
        middle = len(quoted) // 2
        return (
            b"filename*0*="
            + charset
            + b"''"
            + quoted[:middle]
            + b"; filename*1*="
            + quoted[middle:]
        )
    return b"name=" + encoded.replace(b'"', b"").replace(b";", b"")


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["document", "damaged", "noise", "empty"]))
    if kind in ("document", "damaged"):
        data = documents()[draw(st.sampled_from(sorted(documents())))]
        return data if kind == "document" else draw(mutated(data, most=3))
    if kind == "noise":
        return draw(st.binary(max_size=300))
    return b""


@dataclass(frozen=True)
class Leaf:
    content_type: bytes
    disposition: bytes | None
    encoding: bytes
    content: bytes


@dataclass(frozen=True)
class Multipart:
    subtype: bytes
    boundary: bytes
    children: tuple[Tree, ...]
    closed: bool


@dataclass(frozen=True)
class Attached:
    inner: Tree


Tree = Leaf | Multipart | Attached


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    content_type = draw(
        st.sampled_from(
            [
                b"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                b"application/pdf",
                b"application/octet-stream",
                b"text/plain",
                b"text/html",
                b"image/png",
                b"message/delivery-status",
                b"garbage",
            ]
        )
    )
    charset = draw(st.sampled_from(CHARSETS)).encode()
    if charset and draw(st.booleans()):
        content_type += b"; charset=" + charset
    disposition = None
    if draw(st.booleans()):
        kind = draw(st.sampled_from([b"attachment", b"inline", b"weird"]))
        disposition = kind + b"; " + draw(filename_params())
    encoding = draw(st.sampled_from([b"base64", b"quoted-printable", b"8bit", b"7bit", b"x-zip"]))
    return Leaf(content_type, disposition, encoding, draw(contents()))


def trees(max_leaves: int) -> st.SearchStrategy[Tree]:
    def extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
        multiparts = st.builds(
            Multipart,
            subtype=st.sampled_from([b"mixed", b"alternative", b"related", b"digest", b"report"]),
            boundary=st.sampled_from([b"b1", b"b2", b"=_Part_0", b"", b"x y", b"b1--"]),
            children=st.lists(children, max_size=8).map(tuple),
            closed=st.booleans(),
        )
        return st.one_of(multiparts, st.builds(Attached, children))

    return st.recursive(leaves(), extend, max_leaves=max_leaves)


def render(tree: Tree, newline: bytes) -> bytes:
    """A tree as MIME: headers, a blank line, the body (boundaries may collide)."""
    if isinstance(tree, Leaf):
        head = [b"Content-Type: " + tree.content_type]
        if tree.disposition is not None:
            head.append(b"Content-Disposition: " + tree.disposition)
        head.append(b"Content-Transfer-Encoding: " + tree.encoding)
        if tree.encoding == b"base64":
            body = base64.encodebytes(tree.content)
        elif tree.encoding == b"quoted-printable":
            body = quopri.encodestring(tree.content)
        else:
            body = tree.content
        return newline.join(head) + newline + newline + body.replace(b"\n", newline)
    if isinstance(tree, Attached):
        return b"Content-Type: message/rfc822" + newline + newline + render(tree.inner, newline)
    opening = b"Content-Type: multipart/" + tree.subtype + b'; boundary="' + tree.boundary + b'"'
    parts = [opening + newline + newline + b"preamble" + newline]
    for child in tree.children:
        parts.append(b"--" + tree.boundary + newline + render(child, newline) + newline)
    if tree.closed:
        parts.append(b"--" + tree.boundary + b"--" + newline + b"epilogue" + newline)
    return b"".join(parts)


@st.composite
def submissions(draw: st.DrawFn) -> Tree:
    """A statement and a cover letter as a mail client sends them, names and all."""
    statement = documents()["statement.docx"]
    letter = documents()[draw(st.sampled_from(["letter.pdf", "letter.docx"]))]
    kind = b"application/octet-stream"
    return Multipart(
        b"mixed",
        b"=_sub",
        (
            Leaf(b"text/plain; charset=utf-8", None, b"7bit", b"Please find attached."),
            Leaf(kind, b'attachment; filename="Statement_France.docx"', b"base64", statement),
            Leaf(kind, b'attachment; filename="Cover_letter_France"', b"base64", letter),
        ),
        draw(st.booleans()),
    )


@st.composite
def limits(draw: st.DrawFn) -> LimitsSettings:
    """The shipped limits, or small ones that generated messages often go past."""
    if draw(st.booleans()):
        return LimitsSettings()
    return LimitsSettings(
        max_parts=draw(st.integers(2, 30)),
        max_depth=draw(st.integers(2, 6)),
        max_header_kb=draw(st.integers(8, 16)),
        max_header_line_kb=draw(st.integers(1, 4)),
    )


@st.composite
def generated_messages(draw: st.DrawFn) -> bytes:
    newline = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    sender = draw(
        st.sampled_from(
            [b"france@un.int"] * 4 + [b"Fran\xe7ois <france@un.int>", b"ghana@un.int", b"nobody"]
        )
    )
    headers = [
        b"From: " + draw(header_values) + b" <" + sender + b">"
        if draw(st.booleans())
        else b"From: " + sender,
        b"To: " + SUBMISSIONS.encode(),
        b"Subject: " + draw(header_values),
        b"Message-ID: <" + draw(st.binary(max_size=12)).hex().encode() + b"@fuzz>",
        b"MIME-Version: 1.0",
    ]
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([b"X-Note", b"Comments", b"Auto-Submitted", b"Precedence"]))
        headers.append(name + b": " + draw(header_values))
    if draw(st.integers(0, 9)) == 0:  # a header block or one line far too large
        headers.append(b"X-Big: " + b"b" * draw(st.sampled_from([5_000, 20_000, 70_000])))
    tree = draw(trees(max_leaves=draw(st.sampled_from([3, 10, 40]))) | submissions())
    for _ in range(draw(st.integers(0, 14)) if draw(st.integers(0, 4)) == 0 else 0):
        tree = Attached(tree) if draw(st.booleans()) else Multipart(b"mixed", b"n", (tree,), True)
    return newline.join(headers) + newline + render(tree, newline)


# --- The properties -------------------------------------------------------------------------


@pytest.mark.slow
@settings(FUZZ, max_examples=600)
@given(raw=generated_messages(), limits=limits())
def test_generated_messages_end_in_an_outcome(raw: bytes, limits: LimitsSettings) -> None:
    outcome_of(raw, limits)


@settings(FUZZ, max_examples=500)
@given(data=st.data(), limits=limits())
def test_damaged_real_submissions_end_in_an_outcome(
    data: st.DataObject, limits: LimitsSettings
) -> None:
    original = data.draw(st.sampled_from(real_submissions()))
    raw = data.draw(mutated(original, most=8))
    outcome_of(raw, limits)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_damaged_generated_messages_end_in_an_outcome(data: st.DataObject) -> None:
    raw = data.draw(mutated(data.draw(generated_messages()), most=10))
    outcome_of(raw, data.draw(limits()))


def test_an_undamaged_submission_is_accepted() -> None:
    """The harness itself: a good submission goes all the way to accepted."""
    result = outcome_of(real_submissions()[0], LimitsSettings())
    assert result is not None
    assert result.outcome is MessageOutcome.ACCEPTED
