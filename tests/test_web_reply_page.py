"""The dashboard shows the exact text of every reply, as `intake replies show` prints it.

Served by a real uvicorn server and spoken to with httpx, over a database filled by the
real pipeline (a real Dovecot and SMTP server, SQLite and PostgreSQL).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest

from pipeline.demo import samples
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from pipeline.web.accounts import add_user
from pipeline.web.app import create_app
from tests.conftest import SUBMISSIONS, Intake, ny
from tests.helpers.commands import intake_command
from tests.helpers.web import PASSWORD, USER, XSS, Dashboard, serve

PRE = re.compile(r'<pre class="reply-text">(.*?)</pre>', re.DOTALL)


@pytest.fixture
def dashboard(intake: Intake) -> Iterator[Dashboard]:
    """France's French statement, acknowledged in French; its file name carries a script."""
    intake.deliver(
        samples.submission_email(
            mission_name="France",
            sender="france@un.int",
            to=SUBMISSIONS,
            language="fr",
            statement_filename=f"Déclaration {XSS}.docx",
        ),
        at=ny(2021, 5, 20, 10, 0),
    )
    intake.run()
    engine = make_engine(intake.settings.database_url)
    add_user(engine, USER, PASSWORD)
    try:
        with serve(create_app(intake.settings, engine=engine)) as url:
            yield Dashboard(url=url, intake=intake, engine=engine)
    finally:
        engine.dispose()


def test_a_desk_user_reads_a_reply_exactly_as_intake_replies_show_prints_it(
    dashboard: Dashboard,
) -> None:
    """GIVEN France was sent a French acknowledgement WHEN a desk user follows the reply's
    link from the replies table THEN the page shows its headers and its text, character for
    character what `intake replies show` prints, with the sender's file name escaped."""
    [reply] = dashboard.rows(m.Reply)
    reference = dashboard.reference_of("france@un.int")

    with dashboard.login() as client:
        table = client.get("/replies")
        submission = client.get(f"/submissions/{reference}")
        page = client.get(f"/replies/{reply.id}")

    assert f'href="/replies/{reply.id}"' in table.text
    assert f'href="/replies/{reply.id}"' in submission.text
    assert page.status_code == 200
    [shown] = PRE.findall(page.text)
    assert XSS not in page.text  # the script in the file name is text, not markup
    config = dashboard.intake.write_config()
    printed = intake_command("replies", "show", str(reply.id), config=config)
    assert printed.returncode == 0, printed.stderr
    assert html.unescape(shown) == printed.stdout
    text = html.unescape(shown)
    assert f"Message-ID: {reply.message_id}" in text
    assert "To: france@un.int" in text
    assert "Madame, Monsieur," in text
    assert "jeudi 20 mai 2021 à 10 h 00, heure de New York" in text
    assert f"Déclaration : Déclaration {XSS}.docx" in text
    # The subject travels encoded (RFC 2047); the page also gives it as it reads.
    assert "Accusé de réception : déclaration de France" in html.unescape(page.text)
    assert reference in page.text


def test_a_reply_page_is_refused_to_someone_not_signed_in(dashboard: Dashboard) -> None:
    """GIVEN a reply exists WHEN someone who is not signed in asks for its page THEN they
    are sent to sign in and see nothing of it."""
    [reply] = dashboard.rows(m.Reply)

    with httpx.Client(base_url=dashboard.url, follow_redirects=False) as client:
        response = client.get(f"/replies/{reply.id}")

    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Freplies%2F{reply.id}"
    assert "france@un.int" not in response.text
    assert "Accusé" not in response.text


def test_a_reply_that_does_not_exist_is_a_plain_not_found(dashboard: Dashboard) -> None:
    """A mistyped id gives a 404 page that says so, not an error."""
    with dashboard.login() as client:
        response = client.get("/replies/9999")

    assert response.status_code == 404
    assert "There is no reply with the id 9999." in response.text
