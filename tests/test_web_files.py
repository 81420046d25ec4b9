"""Seeing the files on the dashboard: a registered delegation's statement as text and its
cover letter inline on the submission page, a stranger's files never opened, and the
mail Intake filed without answering, with its source.

Real pipeline (Dovecot, SMTP, SQLite and PostgreSQL) fills the database; the dashboard is
served by uvicorn and spoken to with httpx, as in `tests/test_web_http.py`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import docx
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE
from playwright.sync_api import Browser, expect

from pipeline.demo import samples
from pipeline.demo.automatic import auto_reply_email
from pipeline.desk.preview import statement_preview
from pipeline.documents.safety import DEFAULT_LIMITS
from pipeline.resources.reason_labels import reason_label
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from pipeline.web.accounts import add_user
from pipeline.web.app import create_app
from pipeline.web.files import STRANGER
from tests.conftest import PKO_SAFETY, SUBMISSIONS, Intake, ny
from tests.helpers.browser import SCREENSHOTS, chromium
from tests.helpers.commands import intake_command, one_line
from tests.helpers.web import PASSWORD, USER, Dashboard, serve

ON_TIME = ny(2021, 5, 20, 10, 0)
STRANGER_ADDRESS = "press-office@newsdesk.example"


@pytest.fixture
def board(intake: Intake) -> Iterator[Dashboard]:
    """France's submission, a stranger's, and an out-of-office reply, filed by a real run."""
    intake.reconfigure(meetings=[dict(PKO_SAFETY)])
    intake.deliver(
        samples.submission_email(mission_name="France", sender="france@un.int", to=SUBMISSIONS),
        at=ON_TIME,
    )
    intake.deliver(
        samples.submission_email(mission_name="France", sender=STRANGER_ADDRESS, to=SUBMISSIONS),
        at=ON_TIME,
    )
    intake.deliver(
        auto_reply_email(
            sender="ghana@un.int",
            to=SUBMISSIONS,
            original_subject="PKO-SAFETY: acknowledgement \x1b[2J",
        ),
        at=ON_TIME,
    )
    intake.run()
    engine = make_engine(intake.settings.database_url)
    add_user(engine, USER, PASSWORD)
    try:
        with serve(create_app(intake.settings, engine=engine)) as url:
            yield Dashboard(url=url, intake=intake, engine=engine)
    finally:
        engine.dispose()


def _preview_section(html: str) -> str:
    found = re.search(r'<section class="card preview".*?</section>', html, re.DOTALL)
    assert found, html
    return found.group(0)


def test_a_registered_delegations_statement_reads_as_text_beside_its_cover_letter(
    board: Dashboard,
) -> None:
    """GIVEN France's accepted submission, WHEN the desk opens it, THEN the statement's
    title and paragraphs are on the page as text, and the cover letter is framed from a
    URL that serves the PDF inline to this site's pages only."""
    reference = board.reference_of("france@un.int")
    [letter] = [
        d
        for d in board.rows(m.Document)
        if d.role is m.DocumentRole.COVER_LETTER
        and d.submission_id
        == next(s.id for s in board.rows(m.Submission) if s.reference == reference)
    ]
    with board.login() as client:
        page = client.get(f"/submissions/{reference}")
        inline = client.get(f"/documents/{letter.id}/inline")

    section = _preview_section(page.text)
    assert page.status_code == 200
    assert '<div class="statement-text">' in section
    assert section.count("<p>") >= 3
    assert "<script" not in section
    assert f'src="/documents/{letter.id}/inline"' in section
    assert inline.status_code == 200
    assert inline.headers["content-type"] == "application/pdf"
    assert inline.content.startswith(b"%PDF-")
    assert inline.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in inline.headers["content-security-policy"]
    assert inline.headers["content-disposition"].startswith("inline")


def test_a_strangers_files_are_not_opened_on_the_dashboard(board: Dashboard) -> None:
    """GIVEN a submission from an address no mission registered, THEN its page says the
    files are not opened here and offers no preview, and asking for its letter inline
    is refused; downloading stays possible."""
    reference = board.reference_of(STRANGER_ADDRESS)
    submission_id = next(s.id for s in board.rows(m.Submission) if s.reference == reference)
    documents = [d for d in board.rows(m.Document) if d.submission_id == submission_id]
    [letter] = [d for d in documents if d.role is m.DocumentRole.COVER_LETTER]
    with board.login() as client:
        page = client.get(f"/submissions/{reference}")
        inline = client.get(f"/documents/{letter.id}/inline")
        download = client.get(f"/documents/{letter.id}/download")

    section = _preview_section(page.text)
    assert STRANGER.split(":")[0] in section
    assert "statement-text" not in section
    assert "<iframe" not in section
    assert inline.status_code == 403
    assert download.status_code == 200


def test_mail_filed_without_a_reply_is_listed_and_its_source_readable(board: Dashboard) -> None:
    """GIVEN an out-of-office reply in the mailbox, THEN "Not answered" lists it with why,
    and its source opens as plain text, the escape sequence of its subject made visible."""
    [record] = [r for r in board.rows(m.MessageRecord) if r.outcome is m.MessageOutcome.IGNORED]
    with board.login() as client:
        listing = client.get("/ignored")
        source = client.get(f"/messages/{record.id}/raw")
        missing = client.get("/messages/999999/raw")
    with board.client() as stranger:
        refused = stranger.get(f"/messages/{record.id}/raw")

    assert listing.status_code == 200
    assert "ghana@un.int" in listing.text
    assert f'title="{record.reason}"' in listing.text
    assert reason_label(record.reason or "") in listing.text
    assert f'href="/messages/{record.id}/raw"' in listing.text
    assert source.status_code == 200
    assert source.headers["content-type"].startswith("text/plain")
    assert "Auto-Submitted: auto-replied" in source.text
    assert "\x1b" not in source.text
    assert missing.status_code == 404
    assert refused.status_code in (302, 303)


def _hostile_statement() -> bytes:
    document = docx.Document()
    document.add_heading("Statement by Someone", level=1)
    paragraph = document.add_paragraph("Read the <script>alert(1)</script> text ")
    for target in ("javascript:alert(document.cookie)", "https://tracker.example/pixel"):
        relationship = document.part.relate_to(
            target, RELATIONSHIP_TYPE.HYPERLINK, is_external=True
        )
        link = docx.oxml.parse_xml(
            '<w:hyperlink xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
            f'r:id="{relationship}"><w:r><w:t>click here</w:t></w:r></w:hyperlink>'
        )
        paragraph._p.append(link)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_statement_preview_keeps_text_and_drops_whatever_could_run_or_fetch() -> None:
    """GIVEN a statement with a script written as text and links to javascript: and to an
    outside site, THEN the preview shows the words, escapes the script, and keeps no link
    out of the page; a file the documents stage would refuse is not converted at all."""
    preview = statement_preview(_hostile_statement(), DEFAULT_LIMITS)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<a>" + b" " * 50_000_000 + b"</a>")
    refused = statement_preview(bomb.getvalue(), DEFAULT_LIMITS)

    assert preview.html is not None
    assert "Statement by Someone" in preview.html
    assert "&lt;script&gt;" in preview.html
    assert "<script" not in preview.html
    assert "click here" in preview.html
    assert "javascript:" not in preview.html
    assert "tracker.example" not in preview.html
    assert refused.html is None
    assert refused.unavailable is not None
    assert refused.unavailable.startswith("Not shown: the file was refused")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.mark.parametrize("width", [1366, 1024])
def test_in_a_browser_the_desk_reads_what_was_sent_and_what_was_not_answered(
    board: Dashboard, browser: Browser, width: int
) -> None:
    """GIVEN a desk officer at a 1366 px laptop or a 1024 px window, WHEN they open France's
    submission, THEN the statement reads as text beside the framed cover letter, without
    sideways scrolling or a refused resource; AND "Not answered" lists the out-of-office
    reply, whose source opens as plain text."""
    reference = board.reference_of("france@un.int")
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    folder = SCREENSHOTS / "files" / f"{width}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{board.url}/submissions/{reference}")
        page.get_by_label("User name").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        sent = page.get_by_role("heading", name="What was sent")
        expect(sent).to_be_visible()
        statement = page.locator(".statement-text")
        expect(statement.locator("p").first).to_be_visible()
        assert len(statement.inner_text().split()) > 100
        expect(page.locator("iframe.letter-frame")).to_have_attribute(
            "src", re.compile(r"^/documents/\d+/inline$")
        )
        page.locator("#preview").scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "submission-what-was-sent.png"), full_page=True)
        scrolls = page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )

        page.get_by_role("link", name="Not answered").click()
        expect(page.get_by_role("heading", name="Mail filed without a reply")).to_be_visible()
        row = page.locator("tr", has_text="ghana@un.int")
        expect(row).to_be_visible()
        page.screenshot(path=str(folder / "not-answered.png"), full_page=True)
        source_link = row.get_by_role("link", name="View source").get_attribute("href")
        assert source_link is not None
        # (A plain-text page has no icon of its own: Chromium asks for /favicon.ico.)
        on_pages = list(problems)
        page.goto(board.url + source_link)
        source = page.locator("body").inner_text()
    finally:
        context.close()

    assert not scrolls
    assert "Auto-Submitted: auto-replied" in source
    assert on_pages == []


def test_on_the_command_line_the_desk_lists_what_was_not_answered_and_reads_its_source(
    board: Dashboard,
) -> None:
    """GIVEN the out-of-office reply filed without an answer, WHEN the desk runs `intake
    messages ignored` in an 80-column terminal, THEN it is listed with why in words; AND
    `intake messages source ID` prints it as it arrived, its escape made visible; an
    unknown id is one sentence and exit 1."""
    [record] = [r for r in board.rows(m.MessageRecord) if r.outcome is m.MessageOutcome.IGNORED]
    config = board.intake.write_config()

    listed = intake_command("messages", "ignored", config=config, env={"COLUMNS": "80"})
    source = intake_command("messages", "source", str(record.id), config=config)
    unknown = intake_command("messages", "source", "999999", config=config)

    assert listed.returncode == 0, listed.stderr
    assert "ghana@un.int" in listed.stdout
    assert "Automatic reply" in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    assert source.returncode == 0, source.stderr
    assert "Auto-Submitted: auto-replied" in source.stdout
    assert "\x1b" not in source.stdout
    assert unknown.returncode == 1
    assert one_line(unknown.stderr) == "intake: error: There is no message 999999 in the ledger."
