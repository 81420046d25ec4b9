"""Legacy statements and LibreOffice, attacked (security review, issue 12, point 1).

Anyone can mail the submissions address, and a `.doc`, `.rtf` or `.odt` goes to
LibreOffice, a big program that follows links in documents. Each test here performs an
attack against the real program (real Dovecot, real LibreOffice, a real listener):

- an `.odt` that links an image at `http://127.0.0.1:PORT/...` makes LibreOffice fetch
  it: a request from inside the Secretariat's network on a stranger's behalf. Converted
  for a registered sender, nothing reaches the listener (no network in the sandbox); from
  a stranger, a forged registered address or an auto-reply, nothing is converted at all;
- a small `.odt` that unpacks to 60 MiB, and a `.rtf` over `[documents] max_legacy_mb`,
  are refused unopened: LibreOffice never starts;
- an `.odt` that links a file in the data folder: LibreOffice opens it when it can see it
  (a FIFO there tells us), and the sandbox shows it nothing but the file it converts; the
  sandbox's own command cannot read a secrets file, reach a listener or take more memory
  than allowed.
"""

from __future__ import annotations

import contextlib
import errno
import http.server
import io
import os
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.demo.mail import Attachment, build_email
from pipeline.storage import models as m
from tests.conftest import SUBMISSIONS, Intake, ny, text_of
from tests.helpers.office_files import STATEMENT_TEXT, OfficeFiles

ON_TIME = ny(2021, 5, 20, 10, 0)
ODT_TYPE = "application/vnd.oasis.opendocument.text"
REGISTERED = "ghana@un.int"
AUTHSERV_ID = "mx.intake.example"


# -- a listener inside "the Secretariat's network" ---------------------------------------------


class Listener:
    """An HTTP server on 127.0.0.1 that records every request line it receives."""

    def __init__(self) -> None:
        requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_one_request(self) -> None:
                super().handle_one_request()
                if self.requestline:
                    requests.append(self.requestline)

            def do_GET(self) -> None:
                self.send_response(404)
                self.end_headers()

            do_HEAD = do_OPTIONS = do_POST = do_PROPFIND = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.requests = requests
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.close()


class FifoWatch:
    """A named pipe that notices when anything opens it for reading.

    LibreOffice opens a linked file when it loads the document; a FIFO makes that open
    visible (our non-blocking open for writing succeeds only while a reader is there),
    whatever the file system's access-time settings.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        self.path = path
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:  # ENXIO: nobody is reading
                    raise
                time.sleep(0.01)
                continue
            self.opened.set()
            with contextlib.suppress(OSError):  # the reader may be gone already
                os.write(fd, b"\x89PNG\r\n\x1a\n")
            os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# -- hostile documents ----------------------------------------------------------------------


MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
    'manifest:1.0" manifest:version="1.2">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODT_TYPE}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" '
    'manifest:media-type="text/xml"/></manifest:manifest>'
)


def odt(body: str) -> bytes:
    """An OpenDocument text as LibreOffice would read it: mimetype, manifest, content."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT_TYPE)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
        archive.writestr("content.xml", _content(body))
    return out.getvalue()


def _content(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        ' xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"'
        ' xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.2">'
        f"<office:body><office:text>{body}</office:text></office:body>"
        "</office:document-content>"
    )


def statement_linking(url: str) -> bytes:
    """The English statement, with an image linked (not embedded) from `url`."""
    title, paragraphs = STATEMENT_TEXT["en"]
    text = "".join(f"<text:p>{p}</text:p>" for p in [title, *paragraphs])
    image = (
        '<text:p><draw:frame draw:name="logo" svg:width="2cm" svg:height="2cm" '
        f'text:anchor-type="as-char"><draw:image xlink:href="{url}" xlink:type="simple" '
        'xlink:show="embed" xlink:actuate="onLoad"/></draw:frame></text:p>'
    )
    return odt(text + image)


def odt_bomb(megabytes: int = 60) -> bytes:
    """A small .odt whose content.xml unpacks to `megabytes` MiB of paragraphs."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT_TYPE)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
        with archive.open("content.xml", "w", force_zip64=True) as part:
            head, tail = _content("\0").encode().split(b"\0")
            part.write(head)
            block = b"<text:p>peacekeepers</text:p>" * 4096
            for _ in range(megabytes * 2**20 // len(block) + 1):
                part.write(block)
            part.write(tail)
    return out.getvalue()


def long_rtf(megabytes: float) -> bytes:
    """A plain, harmless .rtf statement of about `megabytes` MB."""
    paragraph = (
        "\\pard Peacekeepers serve in some of the most dangerous places on earth, and the "
        "Council owes them the means to do so safely.\\par\n"
    )
    count = int(megabytes * 2**20 / len(paragraph)) + 1
    return f"{{\\rtf1\\ansi\\deff0{{\\fonttbl{{\\f0 Arial;}}}}\n{paragraph * count}}}".encode()


def attachment(name: str, content: bytes, kind: str = "application/octet-stream") -> Attachment:
    return Attachment(filename=name, content=content, content_type=kind)


def letter(office: OfficeFiles) -> Attachment:
    return attachment(
        "Cover letter.pdf", office[("en", "letter_pdf")].read_bytes(), "application/pdf"
    )


def email(
    sender: str,
    *files: Attachment,
    number: int = 0,
    headers: dict[str, str] | None = None,
) -> bytes:
    return build_email(
        sender=sender,
        to=SUBMISSIONS,
        subject=f"PKO-SAFETY: written statement {number}",
        attachments=files,
        message_id=f"<sandbox-{number}-{sender}>",
        extra_headers=headers or {},
    )


def converted(intake: Intake) -> list[m.Document]:
    return [d for d in intake.rows(m.Document) if d.role is m.DocumentRole.CONVERTED_STATEMENT]


# -- (a) no request from inside the network -------------------------------------------------


def test_a_linked_image_is_not_fetched_when_a_registered_senders_odt_is_converted(
    intake: Intake, office_files: OfficeFiles, listener: Listener
) -> None:
    """GIVEN a registered delegation's .odt linking an image on a server inside our
    network WHEN it is converted THEN the statement is read and accepted, and the server
    never hears from LibreOffice (unsandboxed, it gets an OPTIONS and a GET)."""
    statement = statement_linking(listener.url("/internal/logo.png"))
    intake.deliver(
        email(REGISTERED, attachment("Statement.odt", statement, ODT_TYPE), letter(office_files)),
        at=ON_TIME,
    )

    intake.run()

    [row] = intake.queue()
    assert (row.status, row.reasons) == ("accepted", [])
    [docx] = converted(intake)
    assert docx.conversion_tool is not None
    assert docx.conversion_tool.startswith("LibreOffice")
    assert listener.requests == []


@pytest.mark.parametrize(
    ("sender", "headers", "reason"),
    [
        ("stranger@example.org", {}, "unknown_sender"),
        # Our receiving server found no authentication for a mission's address.
        (REGISTERED, {}, "forged_sender"),
        (REGISTERED, {"Auto-Submitted": "auto-replied"}, "auto_reply"),
    ],
    ids=["unregistered", "forged registered address", "auto-reply"],
)
def test_an_odt_that_no_registered_sender_sent_is_never_converted(
    intake: Intake,
    office_files: OfficeFiles,
    listener: Listener,
    sender: str,
    headers: dict[str, str],
    reason: str,
) -> None:
    """GIVEN a stranger, someone forging a registered address (our receiving server
    found no authentication) or an auto-reply WHEN they send an .odt linking an internal
    address THEN LibreOffice never runs: nothing is converted, nothing is fetched, and
    the answer is about the sender, not about a file nobody opened."""
    if reason == "forged_sender":
        intake.reconfigure(authentication={"authserv_id": AUTHSERV_ID, "policy": "require"})
    statement = statement_linking(listener.url("/internal/logo.png"))
    intake.deliver(
        email(
            sender,
            attachment("Statement.odt", statement, ODT_TYPE),
            letter(office_files),
            headers=headers,
        ),
        at=ON_TIME,
    )

    intake.run()

    [record] = intake.ledger()
    assert record.reason == reason
    assert converted(intake) == []
    assert listener.requests == []


def refused_unopened(intake: Intake, *attachments: Attachment) -> str:
    """Deliver a registered delegation's message and run: the statement is refused as
    unsafe, nothing is converted, and the run does not wait on LibreOffice (which needs
    10 s or more for such a file even under the memory limit). The reply's text."""
    intake.deliver(email(REGISTERED, *attachments), at=ON_TIME)

    started = time.monotonic()
    intake.run()
    seconds = time.monotonic() - started

    [row] = intake.queue()
    assert row.reasons == ["statement_unsafe"]
    assert converted(intake) == []
    assert seconds < 8, seconds
    return text_of(intake.replies(1)[0])


# -- (b) a bomb never reaches LibreOffice -----------------------------------------------------


def test_an_odt_that_unpacks_to_60_mib_is_refused_without_starting_libreoffice(
    intake: Intake, office_files: OfficeFiles
) -> None:
    """GIVEN a registered delegation's 100-odd KB .odt whose content.xml unpacks to
    60 MiB (LibreOffice chews on it for a minute and hundreds of MB) WHEN it arrives THEN
    it is refused unopened as unsafe, at once, and the reply says why."""
    bomb = odt_bomb(60)
    assert len(bomb) < 400 * 1024
    text = refused_unopened(
        intake, attachment("Statement.odt", bomb, ODT_TYPE), letter(office_files)
    )
    assert 'The statement "Statement.odt" was not opened for safety reasons' in text
    assert "unpacks to more than" in text or "like a zip bomb" in text


# -- (c) nothing of the data folder or the secrets ----------------------------------------------


def test_a_converted_odt_cannot_open_a_file_in_the_data_folder(
    intake: Intake, office_files: OfficeFiles
) -> None:
    """GIVEN a registered delegation's .odt that links a file in the data folder (where
    every mail and attachment is kept) WHEN it is converted THEN LibreOffice never opens
    that file: the sandbox shows it only the document it converts."""
    watch = FifoWatch(intake.settings.data_dir / "files" / "peek.png")
    try:
        statement = statement_linking(watch.path.as_uri())
        intake.deliver(
            email(
                REGISTERED, attachment("Statement.odt", statement, ODT_TYPE), letter(office_files)
            ),
            at=ON_TIME,
        )

        intake.run()
    finally:
        watch.stop()

    assert len(converted(intake)) == 1
    assert not watch.opened.is_set(), "LibreOffice opened a file in the data folder"


def test_the_sandbox_sees_neither_the_secrets_nor_the_network_and_has_a_memory_limit(
    soffice: str, tmp_path: Path, listener: Listener
) -> None:
    """The command LibreOffice runs in, with a harmless program in its place."""
    from pipeline.documents.sandbox import Confinement, confine, confined_environment

    secrets = tmp_path / "etc" / "secrets.env"
    secrets.parent.mkdir()
    secrets.write_text("INTAKE_SMTP__PASSWORD=hunter2\n", encoding="utf-8")
    stored = tmp_path / "data" / "files" / "ab" / "stored-mail"
    stored.parent.mkdir(parents=True)
    stored.write_text("From: someone\n\nhunter2\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    (work / "input.txt").write_text("the document\n", encoding="utf-8")
    confinement = Confinement(memory_mb=256)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            confine(list(argv), confinement=confinement, writable=[work]),
            env=confined_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # What it is given, it reads and writes.
    shown = run("/bin/sh", "-c", f"cat {work}/input.txt && echo out > {work}/output.txt")
    assert (shown.returncode, shown.stdout) == (0, "the document\n"), shown.stderr
    assert (work / "output.txt").read_text(encoding="utf-8") == "out\n"
    # Nothing else of the file system: not the secrets, not the data folder, not /etc.
    for path in (secrets, stored, Path("/etc/passwd")):
        hidden = run("/bin/cat", str(path))
        assert hidden.returncode != 0
        assert "hunter2" not in hidden.stdout
        assert "No such file or directory" in hidden.stderr, hidden.stderr
    # No network: the listener on the host's loopback cannot be reached.
    python = "/usr/bin/python3"
    if not Path(python).is_file():
        pytest.skip("no system Python to try the network with")
    dial = (
        "import socket,sys\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {listener.port}), timeout=5)\n"
        "except OSError as e:\n"
        "    sys.exit(f'no network: {e}')\n"
    )
    outside = subprocess.run(
        [sys.executable, "-c", dial], capture_output=True, text=True, timeout=30, check=False
    )
    assert outside.returncode == 0, outside.stderr
    inside = run(python, "-c", dial)
    assert inside.returncode != 0
    assert "no network" in inside.stderr
    # No more memory than allowed.
    greedy = run(python, "-c", "b = bytearray(512 * 2**20)")
    assert greedy.returncode != 0
    assert "MemoryError" in greedy.stderr


# -- (d) a legacy file over the size cap ------------------------------------------------------


def test_a_legacy_statement_over_the_size_limit_is_refused_unopened(
    intake: Intake, office_files: OfficeFiles
) -> None:
    intake.reconfigure(documents={"max_legacy_mb": 1})
    text = refused_unopened(
        intake,
        attachment("Statement.rtf", long_rtf(1.5), "application/rtf"),
        letter(office_files),
    )
    assert "was not opened for safety reasons: it is larger than 1 MB" in text


# -- without a sandbox -----------------------------------------------------------------------


def test_without_a_working_sandbox_legacy_statements_are_not_converted_unless_allowed(
    intake: Intake, office_files: OfficeFiles, listener: Listener
) -> None:
    """GIVEN a host without bubblewrap WHEN a registered delegation sends an .odt THEN it
    is not converted (the reply asks for a .docx), unless the operator allowed
    conversions without a sandbox."""
    intake.reconfigure(documents={"bwrap": "/nonexistent/bwrap"})
    plain = attachment("Statement.odt", office_files[("en", "odt")].read_bytes(), ODT_TYPE)
    intake.deliver(email(REGISTERED, plain, letter(office_files), number=1), at=ON_TIME)

    intake.run()

    [row] = intake.queue()
    assert row.reasons == ["statement_legacy_word"]
    assert converted(intake) == []
    assert '"Word Document (*.docx)"' in text_of(intake.replies(1)[0])

    intake.reconfigure(
        documents={"bwrap": "/nonexistent/bwrap", "allow_unsandboxed_conversion": True}
    )
    intake.deliver(email("france@un.int", plain, letter(office_files), number=2), at=ON_TIME)

    intake.run()

    rows = {row.mission: row for row in intake.queue()}
    assert rows["FRA"].status == "accepted"
    assert len(converted(intake)) == 1


def test_config_check_says_how_legacy_statements_are_converted(
    intake: Intake, soffice: str
) -> None:
    def check(**documents: object) -> str:
        config = intake.write_config(documents=documents)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        result = subprocess.run(
            [sys.executable, "-m", "pipeline", "--config", str(config), "config", "check"],
            capture_output=True,
            text=True,
            timeout=120,
            env=environment,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return " ".join((result.stdout + result.stderr).split())

    sandboxed = check()
    assert "legacy statements (.doc, .rtf, .odt): converted in a sandbox" in sandboxed
    assert "no network" in sandboxed

    refused = check(bwrap="/nonexistent/bwrap")
    assert "legacy statements (.doc, .rtf, .odt): NOT converted" in refused
    assert "bubblewrap" in refused
    assert "allow_unsandboxed_conversion" in refused

    allowed = check(bwrap="/nonexistent/bwrap", allow_unsandboxed_conversion=True)
    assert "converted WITHOUT a sandbox" in allowed
