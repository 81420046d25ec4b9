"""The dashboard's meeting form, list of speakers upload and sender addresses, over HTTP.

The application from `create_app` is served by a real uvicorn on a free port over a real
SQLite database (statements filed straight into it: `tests/helpers/filed.py`), and
spoken to with httpx as a browser would: signed in, forms carrying the CSRF token.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pipeline.configuration import parse_settings
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from pipeline.web.accounts import add_user
from pipeline.web.app import create_app
from tests.helpers.filed import MEETING, Filed, file_debate
from tests.helpers.web import PASSWORD, USER, XSS, serve, token_of

ACCEPTED = [
    Filed("CIV", "fr", "Déclaration de la Côte d'Ivoire", ("Texte.",)),
    Filed("FRA", "fr", "Déclaration de la France", ("Texte.",)),
]
NEW_MEETING = {
    "code": "WPS-2031",
    "title": "Women and peace and security",
    "date": "2031-10-21",
    "deadline": "",
    "word_limit": "500",
    "format": "videoconference",
    "president": "Martin Kimani",
    "presidency": "KEN",
    "briefers": "Sima Bahous, Executive Director of UN-Women\n",
    "procedure": "S/2020/372",
}


@dataclass
class Site:
    url: str
    engine: Engine

    @staticmethod
    def text(response: httpx.Response) -> str:
        """The page as a person reads it: tags out, entities decoded, spaces collapsed."""
        return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())

    def rows(self, model: type[Any]) -> list[Any]:
        with Session(self.engine) as session:
            return list(session.exec(select(model).order_by(col(model.id))))

    def audit(self, kind: m.AuditKind) -> list[m.AuditEvent]:
        return [event for event in self.rows(m.AuditEvent) if event.kind is kind]

    def meeting(self, code: str) -> m.Meeting | None:
        with Session(self.engine) as session:
            return session.exec(select(m.Meeting).where(m.Meeting.code == code)).first()

    def speakers(self, code: str = "PKO-SAFETY") -> list[str]:
        with Session(self.engine) as session:
            meeting = session.exec(select(m.Meeting).where(m.Meeting.code == code)).one()
            rows = session.exec(
                select(m.Speaker, m.Mission)
                .join(m.Mission, col(m.Speaker.mission_id) == col(m.Mission.id))
                .where(m.Speaker.meeting_id == meeting.id)
                .order_by(col(m.Speaker.position))
            )
            return [mission.code for _speaker, mission in rows]

    def senders(self, code: str) -> dict[str, str]:
        with Session(self.engine) as session:
            mission = session.exec(select(m.Mission).where(m.Mission.code == code)).one()
            return {
                row.address: row.source
                for row in session.exec(
                    select(m.SenderAddress).where(m.SenderAddress.mission_id == mission.id)
                )
            }


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """PKO-SAFETY (from the configuration file) with Côte d'Ivoire and France accepted;
    Ghana registered by the configuration file."""
    data = tmp_path / "data"
    file_debate(data, ACCEPTED)
    settings = parse_settings(
        {
            "paths": {"data_dir": str(data)},
            "meetings": [dict(MEETING)],
            "missions": {"GHA": {"senders": ["ghana@un.int"]}},
        },
        environ={},
    )
    engine = make_engine(settings.database_url)
    add_user(engine, USER, PASSWORD)
    try:
        with serve(create_app(settings, engine=engine)) as url:
            yield Site(url=url, engine=engine)
    finally:
        engine.dispose()


@pytest.fixture
def browser(site: Site) -> Iterator[httpx.Client]:
    """A signed-in desk officer's browser."""
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=60) as client:
        token = token_of(client.get("/login"))
        signed = client.post(
            "/login", data={"csrf_token": token, "username": USER, "password": PASSWORD}
        )
        assert signed.status_code == 303, signed.text
        yield client


def post(client: httpx.Client, page: str, url: str, **data: Any) -> httpx.Response:
    """Fill in a form of `page` and send it, with the page's CSRF token."""
    return client.post(url, data={"csrf_token": token_of(client.get(page)), **data})


def follow(client: httpx.Client, response: httpx.Response) -> httpx.Response:
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"])


# -- the meeting form ---------------------------------------------------------------------


def test_the_desk_adds_a_meeting_with_the_letters_fields_from_the_form(
    site: Site, browser: httpx.Client
) -> None:
    """GIVEN the form for a new meeting WHEN the desk fills it in THEN the meeting is
    stored with what the compilation letter needs, the audit log names the desk user, and
    the desk lands on the meeting's page with no deadline warning (it is ahead)."""
    done = post(browser, "/meetings/new", "/meetings", **NEW_MEETING)

    page = follow(browser, done)
    assert done.headers["location"] == "/meetings/WPS-2031"
    assert "Meeting WPS-2031 added." in site.text(page)
    assert "has already passed" not in site.text(page)
    stored = site.meeting("WPS-2031")
    assert stored is not None
    assert (stored.president, stored.presidency, stored.procedure) == (
        "Martin Kimani",
        "KEN",
        "S/2020/372",
    )
    assert stored.briefers == ["Sima Bahous, Executive Director of UN-Women"]
    assert [e.actor for e in site.audit(m.AuditKind.MEETING_ADDED)] == [USER]


def test_a_wrong_field_is_shown_on_the_form_in_one_sentence_and_nothing_is_added(
    site: Site, browser: httpx.Client
) -> None:
    """GIVEN a presidency that is no mission code, then a date that is no day WHEN the desk
    sends the form THEN it comes back (400) with one sentence saying what to fix and what
    was typed still there (escaped); no meeting is added."""
    title = f"Women {XSS}"
    wrong_presidency = post(
        browser, "/meetings/new", "/meetings", **{**NEW_MEETING, "title": title, "presidency": "XX"}
    )
    wrong_date = post(browser, "/meetings/new", "/meetings", **{**NEW_MEETING, "date": "21/10"})

    assert wrong_presidency.status_code == 400
    assert "presidency: unknown mission code 'XX'" in site.text(wrong_presidency)
    assert 'value="Women &lt;script&gt;alert(1)&lt;/script&gt;"' in wrong_presidency.text
    assert XSS not in wrong_presidency.text
    assert wrong_date.status_code == 400
    assert "date: '21/10' is not a day: write it as 2021-05-24" in site.text(wrong_date)
    assert site.meeting("WPS-2031") is None
    assert site.audit(m.AuditKind.MEETING_ADDED) == []


def test_a_meeting_added_with_a_past_deadline_is_flagged_on_its_page(
    site: Site, browser: httpx.Client
) -> None:
    past = {**NEW_MEETING, "code": "WPS-2021", "date": "2021-10-21"}

    page = follow(browser, post(browser, "/meetings/new", "/meetings", **past))

    text = site.text(page)
    assert "Meeting WPS-2021 added." in text
    assert (
        "The deadline of WPS-2021 (21 Oct 2021 23:59 EDT) has already passed: statements "
        "sent now are rejected as late."
    ) in text


def test_the_desk_edits_what_it_changed_and_the_rest_stays_to_the_second(
    site: Site, browser: httpx.Client
) -> None:
    """GIVEN a meeting the desk added WHEN it changes the title and word limit on the
    meeting's form (the other fields sent back as shown) THEN only those two change (the
    default deadline keeps its 23:59:59), and the audit log says who and what."""
    follow(browser, post(browser, "/meetings/new", "/meetings", **NEW_MEETING))
    before = site.meeting("WPS-2031")
    assert before is not None
    shown = {**NEW_MEETING, "deadline": "2031-10-21T23:59"}

    changed = {**shown, "title": "WPS open debate", "word_limit": "700"}

    edited = follow(
        browser, post(browser, "/meetings/WPS-2031", "/meetings/WPS-2031/edit", **changed)
    )
    same = follow(
        browser, post(browser, "/meetings/WPS-2031", "/meetings/WPS-2031/edit", **changed)
    )

    assert "Meeting WPS-2031 changed: title, word_limit." in site.text(edited)
    assert "Nothing was changed: the form showed the meeting as it is." in site.text(same)
    after = site.meeting("WPS-2031")
    assert after is not None
    assert (after.title, after.word_limit, after.deadline) == (
        "WPS open debate",
        700,
        before.deadline,
    )
    [event] = site.audit(m.AuditKind.MEETING_EDITED)
    assert event.actor == USER
    assert event.detail["changed"] == {
        "title": ["Women and peace and security", "WPS open debate"],
        "word_limit": [500, 700],
    }


def test_a_meeting_of_the_configuration_file_is_not_edited_from_the_dashboard(
    site: Site, browser: httpx.Client
) -> None:
    page = browser.get("/meetings/PKO-SAFETY")
    refused = post(
        browser,
        "/meetings/PKO-SAFETY",
        "/meetings/PKO-SAFETY/edit",
        **{**NEW_MEETING, "title": "Changed", "code": "PKO-SAFETY"},
    )

    assert "This meeting comes from the configuration file" in site.text(page)
    assert 'action="/meetings/PKO-SAFETY/edit"' not in page.text
    assert refused.status_code == 400
    assert "PKO-SAFETY comes from the configuration file" in site.text(refused)
    meeting = site.meeting("PKO-SAFETY")
    assert meeting is not None
    assert meeting.title == MEETING["title"]


# -- the list of speakers ------------------------------------------------------------------


def upload(client: httpx.Client, name: str, content: bytes, meeting: str = "PKO-SAFETY") -> Any:
    token = token_of(client.get(f"/meetings/{meeting}"))
    return client.post(
        f"/meetings/{meeting}/speakers",
        data={"csrf_token": token},
        files={"file": (name, content, "application/octet-stream")},
    )


def workbook(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_desk_uploads_the_list_of_speakers_and_missing_checks_against_it(
    site: Site, browser: httpx.Client
) -> None:
    """GIVEN Côte d'Ivoire and France accepted WHEN the desk uploads an Excel list (Ghana,
    France, Spain, Côte d'Ivoire in four languages) THEN the meeting's page shows the list
    with each one's statement, and "who is missing" shows Ghana and Spain only, as "2 of
    the 4 inscribed speakers"."""
    content = workbook([["Délégation"], ["غانا"], ["Francia"], ["ESP"], ["Кот-д'Ивуар"]])

    done = upload(browser, "orateurs.xlsx", content)
    page = follow(browser, done)
    missing = browser.get("/missing?meeting=PKO-SAFETY")

    assert "4 speakers imported for PKO-SAFETY." in site.text(page)
    assert "List of speakers (4)" in site.text(page)
    assert "PKO-SAFETY-0002" in page.text  # France's statement, on its row
    assert site.speakers() == ["GHA", "FRA", "ESP", "CIV"]
    text = site.text(missing)
    assert "2 of the 4 inscribed speakers have not submitted" in text
    assert re.findall(r'href="/missions/(\w+)"', missing.text) == ["GHA", "ESP"]
    [event] = site.audit(m.AuditKind.SPEAKERS_IMPORTED)
    assert (event.actor, event.detail["file"]) == (USER, "orateurs.xlsx")


def test_an_upload_with_unknown_rows_shows_them_and_keeps_the_list_as_it_was(
    site: Site, browser: httpx.Client
) -> None:
    follow(browser, upload(browser, "first.csv", b"FRA\nGHA\n"))
    bad = f"France\nNarnia\n{XSS}\nGhana\n".encode()

    refused = upload(browser, "bad.csv", bad)

    assert refused.status_code == 400
    text = site.text(refused)
    assert "2 rows name no mission (rows 2, 3): nothing was imported" in text
    assert re.search(r"2 Narnia", text)
    assert XSS not in refused.text
    assert site.speakers() == ["FRA", "GHA"]
    assert len(site.audit(m.AuditKind.SPEAKERS_IMPORTED)) == 1


# -- sender addresses -----------------------------------------------------------------------


def test_the_desk_adds_and_removes_a_sender_address_on_the_missions_page(
    site: Site, browser: httpx.Client
) -> None:
    """GIVEN Spain with no address WHEN the desk adds one on Spain's page, then removes it
    THEN mail from it is recognised, then no longer, and the audit log names the desk user
    both times; a configured address has no Remove button; a wrong address is refused on
    the form in one sentence."""
    added = post(browser, "/missions/ESP", "/missions/esp/senders", address=" Spain@UN.int ")
    assert "spain@un.int may now send statements for ESP." in site.text(follow(browser, added))
    assert site.senders("ESP") == {"spain@un.int": "desk"}
    taken = post(browser, "/missions/FRA", "/missions/FRA/senders", address="ghana@un.int")
    wrong = post(browser, "/missions/ESP", "/missions/ESP/senders", address="not an address")

    removed = post(browser, "/missions/ESP", "/missions/ESP/senders/remove", address="spain@un.int")

    assert "spain@un.int removed from ESP" in site.text(follow(browser, removed))
    assert site.senders("ESP") == {}
    assert taken.status_code == 400
    assert "ghana@un.int is already allowed for GHA" in site.text(taken)
    assert wrong.status_code == 400
    assert "'not an address' is not an email address or '@domain'" in site.text(wrong)
    assert [(e.actor, e.detail) for e in site.audit(m.AuditKind.SENDER_ADDED)] == [
        (USER, {"mission": "ESP", "address": "spain@un.int"})
    ]
    assert [e.actor for e in site.audit(m.AuditKind.SENDER_REMOVED)] == [USER]
    ghana = browser.get("/missions/GHA")
    assert "ghana@un.int" in ghana.text
    assert "/senders/remove" not in ghana.text  # from the configuration file: edited there


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    site: Site, browser: httpx.Client
) -> None:
    """GIVEN a signed-in desk user WHEN a page on another site makes the browser post to the
    new forms without the session's token THEN each is refused (403) and nothing changes."""
    posts = [
        browser.post("/meetings", data=NEW_MEETING),
        browser.post("/meetings/PKO-SAFETY/edit", data={**NEW_MEETING, "csrf_token": "x"}),
        browser.post(
            "/meetings/PKO-SAFETY/speakers",
            data={"csrf_token": "forged"},
            files={"file": ("list.csv", b"FRA\n", "text/csv")},
        ),
        browser.post("/missions/ESP/senders", data={"address": "spain@un.int"}),
        browser.post("/missions/GHA/senders/remove", data={"address": "ghana@un.int"}),
    ]

    assert [response.status_code for response in posts] == [403] * 5
    assert site.meeting("WPS-2031") is None
    assert site.speakers() == []
    assert site.senders("ESP") == {}
    assert site.senders("GHA") == {"ghana@un.int": "config"}
