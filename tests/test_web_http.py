"""The dashboard over HTTP, as a browser (or an attacker) talks to it.

The application from `create_app` is served by a real uvicorn server on a free port and
spoken to with httpx; the database is filled by the real pipeline (a real Dovecot, a real
SMTP server, SQLite and PostgreSQL) before each story, exactly as in production.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import docx
import httpx
import pytest
from sqlmodel import Session, col, select
from starlette.routing import Mount, Route
from typer.testing import CliRunner

from pipeline.configuration import parse_settings
from pipeline.demo import samples
from pipeline.devservers.ports import LOOPBACK, free_port
from pipeline.replies.outbox import send_pending
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from pipeline.storage.prepare import prepare
from pipeline.web import clock, cookie, throttling
from pipeline.web.accounts import add_user
from pipeline.web.app import create_app
from pipeline.web.passwords import hash_password
from tests.conftest import Intake, text_of
from tests.helpers.web import PASSWORD, USER, XSS, Dashboard, fill, intake_app, serve, token_of


@pytest.fixture
def dashboard(intake: Intake) -> Iterator[Dashboard]:
    fill(intake)
    engine = make_engine(intake.settings.database_url)
    add_user(engine, USER, PASSWORD)
    try:
        with serve(create_app(intake.settings, engine=engine)) as url:
            yield Dashboard(url=url, intake=intake, engine=engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard over an empty SQLite database: enough to knock on its doors."""
    data = tmp_path_factory.mktemp("bare")
    settings = parse_settings({"paths": {"data_dir": str(data)}}, environ={})
    engine = prepare(settings)
    try:
        with serve(create_app(settings, engine=engine)) as url:
            yield url
    finally:
        engine.dispose()


# -- who may come in ---------------------------------------------------------------------------

PROTECTED = [
    # (method, the route as declared, a concrete URL)
    ("GET", "/", "/"),
    ("GET", "/submissions", "/submissions?meeting=PKO-SAFETY&status=held"),
    ("GET", "/submissions/{reference}", "/submissions/PKO-SAFETY-0001"),
    ("POST", "/submissions/{reference}/decide", "/submissions/PKO-SAFETY-0001/decide"),
    ("GET", "/documents/{id:int}/download", "/documents/1/download"),
    ("GET", "/documents/{id:int}/inline", "/documents/1/inline"),
    ("GET", "/ignored", "/ignored"),
    ("GET", "/messages/{id:int}/raw", "/messages/1/raw"),
    ("GET", "/missing", "/missing?meeting=PKO-SAFETY"),
    ("POST", "/meetings", "/meetings"),
    ("GET", "/meetings/new", "/meetings/new"),
    ("GET", "/meetings/{code}", "/meetings/PKO-SAFETY"),
    ("POST", "/meetings/{code}/edit", "/meetings/PKO-SAFETY/edit"),
    ("POST", "/meetings/{code}/speakers", "/meetings/PKO-SAFETY/speakers"),
    ("GET", "/missions", "/missions"),
    ("GET", "/missions/{code}", "/missions/FRA"),
    ("POST", "/missions/{code}/senders", "/missions/FRA/senders"),
    ("POST", "/missions/{code}/senders/remove", "/missions/FRA/senders/remove"),
    ("GET", "/meetings/{code}/compilation.docx", "/meetings/PKO-SAFETY/compilation.docx"),
    ("GET", "/replies", "/replies?status=failed"),
    ("GET", "/replies/{id:int}", "/replies/1"),
    ("POST", "/replies/{id:int}/resend", "/replies/1/resend"),
    ("POST", "/replies/{id:int}/cancel", "/replies/1/cancel"),
    ("GET", "/audit", "/audit"),
    ("POST", "/logout", "/logout"),
]
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("GET", "/metrics")}


def test_the_list_of_protected_routes_covers_every_route_of_the_app(tmp_path: Path) -> None:
    """A route added later must be added to PROTECTED (or, consciously, to PUBLIC)."""
    settings = parse_settings({"paths": {"data_dir": str(tmp_path)}}, environ={})
    app = create_app(settings)
    declared: set[tuple[str, str]] = set()
    mounts: set[str] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            mounts.add(route.path)
        elif isinstance(route, Route):
            declared |= {(method, route.path) for method in route.methods or () if method != "HEAD"}

    assert declared == {(method, route) for method, route, _ in PROTECTED} | PUBLIC
    assert mounts == {"/static"}  # the stylesheet and the countdown script: no data


@pytest.mark.parametrize(
    ("method", "url"), [(method, url) for method, _, url in PROTECTED], ids=lambda v: str(v)
)
def test_every_page_but_login_health_and_metrics_sends_strangers_to_the_login(
    bare: str, method: str, url: str
) -> None:
    with httpx.Client(base_url=bare, follow_redirects=False) as client:
        response = client.request(method, url, data={"reason": "x"} if method == "POST" else None)

    assert response.status_code == 303
    expected = quote(url, safe="") if method == "GET" else "%2F"
    assert response.headers["location"] == f"/login?next={expected}"


@pytest.mark.parametrize("path", ["/login", "/healthz", "/metrics", "/static/style.css"])
def test_login_health_metrics_and_the_stylesheet_need_no_login(bare: str, path: str) -> None:
    with httpx.Client(base_url=bare) as client:
        assert client.get(path).status_code == 200


def test_every_response_carries_the_security_headers(bare: str) -> None:
    with httpx.Client(base_url=bare, follow_redirects=False) as client:
        responses = [
            client.get("/login"),
            client.get("/"),
            client.get("/no/such/page"),
            client.get("/healthz"),
            client.get("/static/countdown.js"),
            client.post("/login", data={}),
        ]
    for response in responses:
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_desk_user_signs_in_and_is_sent_where_they_were_going(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        first = client.get("/submissions?status=held")
        assert first.status_code == 303
        login_page = client.get(first.headers["location"])
        token = token_of(login_page)
        assert 'name="next" value="/submissions?status=held"' in login_page.text

        response = client.post(
            "/login",
            data={
                "csrf_token": token,
                "username": USER,
                "password": PASSWORD,
                "next": "/submissions?status=held",
            },
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/submissions?status=held"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        page = client.get("/submissions?status=held")
        assert page.status_code == 200
        assert USER in page.text
        # The session was replaced at login: the pre-login token no longer works.
        assert token_of(page) != token


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_after_login_only_a_path_on_this_site_is_followed(
    dashboard: Dashboard, target: str
) -> None:
    with dashboard.client() as client:
        token = token_of(client.get("/login"))
        response = client.post(
            "/login",
            data={"csrf_token": token, "username": USER, "password": PASSWORD, "next": target},
        )

    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_a_wrong_password_is_refused_slowly_and_logged_without_the_password(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.web")
    with dashboard.client() as client:
        started = time.monotonic()
        response = dashboard.sign_in(client, USER, "not the password at all")
        took = time.monotonic() - started
        unknown = dashboard.sign_in(client, "nobody", PASSWORD)
        after = client.get("/")

    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert took >= throttling.FAILED_LOGIN_DELAY
    assert unknown.status_code == 401
    assert after.status_code == 303
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"failed dashboard login for user {USER!r}" in logged
    assert "failed dashboard login for user 'nobody'" in logged
    assert "not the password at all" not in logged
    assert PASSWORD not in logged


def test_a_user_from_the_configuration_file_signs_in(intake: Intake) -> None:
    intake.reconfigure(
        desk={"users": [{"name": "chief", "password_hash": hash_password(PASSWORD)}]}
    )
    engine = make_engine(intake.settings.database_url)
    try:
        with serve(create_app(intake.settings, engine=engine)) as url:
            board = Dashboard(url=url, intake=intake, engine=engine)
            with board.login("chief") as client:
                assert client.get("/").status_code == 200
            with board.client() as client:
                assert board.sign_in(client, "chief", "wrong password!").status_code == 401
    finally:
        engine.dispose()


def test_a_session_older_than_session_minutes_is_refused(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cookie would still be accepted by its signature; the server-side check is what
    ends the session. The clock is moved forward: waiting the real minutes is not an option."""
    minutes = dashboard.intake.settings.web.session_minutes
    with dashboard.login() as client:
        assert client.get("/").status_code == 200
        real_now = clock.now
        monkeypatch.setattr(clock, "now", lambda: real_now() + minutes * 60 - 30)
        assert client.get("/").status_code == 200

        monkeypatch.setattr(clock, "now", lambda: real_now() + minutes * 60 + 1)
        expired = client.get("/submissions")
        monkeypatch.setattr(clock, "now", real_now)
        again = client.get("/submissions")
        login_page = client.get(again.headers["location"])

    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/login")
    assert again.status_code == 303, "an expired session must not come back to life"
    assert "session has expired" in login_page.text


def test_signing_out_ends_the_session(dashboard: Dashboard) -> None:
    with dashboard.login() as client:
        token = token_of(client.get("/"))
        response = client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        assert client.get("/").status_code == 303


# -- forms -------------------------------------------------------------------------------------


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    reference = dashboard.reference_of("france@un.int")
    [reply] = [r for r in dashboard.rows(m.Reply) if r.to_address == "france@un.int"]
    decisions = len(dashboard.rows(m.Decision))
    mails = len(dashboard.intake.replies())
    decide = {"action": "reject", "reason": "Forged", "notify": "yes"}

    with dashboard.login() as client:
        events = len(dashboard.rows(m.AuditEvent))  # the login is one
        good = token_of(client.get("/"))
        attempts = [
            client.post(f"/submissions/{reference}/decide", data=decide),
            client.post(f"/submissions/{reference}/decide", data={**decide, "csrf_token": "x"}),
            client.post(
                f"/submissions/{reference}/decide", data={**decide, "csrf_token": good + "x"}
            ),
            client.post(f"/replies/{reply.id}/resend", data={"csrf_token": ""}),
            client.post("/logout", data={"csrf_token": "é"}),
        ]
        still_in = client.get("/")
    with dashboard.client() as stranger:
        stranger.get("/login")
        login = stranger.post(
            "/login", data={"username": USER, "password": PASSWORD, "csrf_token": "forged"}
        )

    assert [a.status_code for a in attempts] == [403] * 5
    assert "security token" in attempts[0].text
    assert login.status_code == 403
    assert still_in.status_code == 200, "the refused logout did not log out"
    [row] = [r for r in dashboard.intake.queue() if r.reference == reference]
    assert row.status == "accepted"
    assert len(dashboard.rows(m.Decision)) == decisions
    assert len(dashboard.rows(m.AuditEvent)) == events
    assert len(dashboard.intake.replies()) == mails


def test_the_desk_rejects_a_submission_and_the_sender_receives_the_reason(
    dashboard: Dashboard,
) -> None:
    reference = dashboard.reference_of("france@un.int")
    dashboard.intake.smtp.clear()
    with dashboard.login() as client:
        token = token_of(client.get(f"/submissions/{reference}"))
        response = client.post(
            f"/submissions/{reference}/decide",
            data={
                "csrf_token": token,
                "action": "reject",
                "reason": "The statement is the one for the previous debate.",
                "notify": "yes",
            },
        )
        page = client.get(response.headers["location"])

    assert response.status_code == 303
    assert f"{reference} is now rejected (was accepted)." in page.text
    assert "The reply was sent to france@un.int." in page.text
    [reply] = dashboard.intake.replies(1)
    assert reply.rcpt_tos == ("france@un.int",)
    assert "The statement is the one for the previous debate." in text_of(reply)
    [decision] = [d for d in dashboard.rows(m.Decision) if d.decided_by == USER]
    assert decision.status is m.SubmissionStatus.REJECTED


def test_when_smtp_is_down_the_decision_stands_and_the_reply_waits_for_a_resend(
    dashboard: Dashboard,
) -> None:
    reference = dashboard.reference_of("japan@un.int")
    smtp = dashboard.intake.smtp
    smtp.clear()
    smtp.stop()
    with dashboard.login() as client:
        token = token_of(client.get(f"/submissions/{reference}"))
        response = client.post(
            f"/submissions/{reference}/decide",
            data={
                "csrf_token": token,
                "action": "accept",
                "reason": "Meant for the peacekeeping debate.",
                "notify": "yes",
                "meeting": "PKO-SAFETY",
            },
        )
        page = client.get(response.headers["location"])
        [queued] = [
            r
            for r in dashboard.rows(m.Reply)
            if r.to_address == "japan@un.int" and r.kind is m.ReplyKind.ACKNOWLEDGEMENT
        ]

        smtp.start()
        resent = client.post(
            f"/replies/{queued.id}/resend",
            data={"csrf_token": token, "next": f"/submissions/{reference}"},
        )
        after = client.get(resent.headers["location"])

    assert f"{reference} is now accepted (was held)." in page.text
    assert "stays queued" in page.text
    assert queued.status is m.ReplyStatus.PENDING
    assert resent.headers["location"] == f"/submissions/{reference}"
    assert "The reply was sent to japan@un.int." in after.text
    assert any("Meant for the peacekeeping debate." in text_of(r) for r in smtp.wait_for(1, 5))
    [row] = [r for r in dashboard.intake.queue() if r.reference == reference]
    assert (row.status, row.meeting) == ("accepted", "PKO-SAFETY")


def test_the_desk_cancels_a_waiting_reply_next_to_it_and_it_never_goes_out(
    dashboard: Dashboard,
) -> None:
    reference = dashboard.reference_of("japan@un.int")
    smtp = dashboard.intake.smtp
    smtp.clear()
    smtp.stop()
    with dashboard.login() as client:
        token = token_of(client.get(f"/submissions/{reference}"))
        client.post(
            f"/submissions/{reference}/decide",
            data={
                "csrf_token": token,
                "action": "accept",
                "reason": "Meant for the peacekeeping debate.",
                "notify": "yes",
                "meeting": "PKO-SAFETY",
            },
        )
        [waiting] = [r for r in dashboard.rows(m.Reply) if r.status is m.ReplyStatus.PENDING]
        before = client.get(f"/submissions/{reference}")
        refused = client.post(
            f"/replies/{waiting.id}/cancel",
            data={"csrf_token": token, "reason": "  ", "next": f"/submissions/{reference}"},
        )
        after_refusal = client.get(refused.headers["location"])
        cancelled = client.post(
            f"/replies/{waiting.id}/cancel",
            data={
                "csrf_token": token,
                "reason": "Told the mission by phone",
                "next": f"/submissions/{reference}",
            },
        )
        page = client.get(cancelled.headers["location"])
        replies_page = client.get("/replies?status=cancelled")
    smtp.start()
    send_pending(dashboard.engine, dashboard.intake.settings)

    assert f'action="/replies/{waiting.id}/cancel"' in before.text
    assert "Nothing was changed: give a reason" in after_refusal.text
    assert cancelled.headers["location"] == f"/submissions/{reference}"
    assert f"Reply {waiting.id} cancelled: it will not be sent." in page.text
    assert f"cancelled by {USER}: Told the mission by phone" in page.text
    assert f'action="/replies/{waiting.id}/cancel"' not in page.text
    assert "Told the mission by phone" in replies_page.text
    assert smtp.messages == []
    [row] = [r for r in dashboard.rows(m.Reply) if r.id == waiting.id]
    assert row.status is m.ReplyStatus.CANCELLED


# -- what came from an email is text, never markup ---------------------------------------------


def test_a_background_refresh_shows_the_desks_hold_and_leaves_the_flash_for_the_next_page(
    dashboard: Dashboard,
) -> None:
    """GIVEN the desk holds Brazil's statement with a reason (a flash message waits)
    WHEN the overview refreshes itself in the background meanwhile
    THEN the refreshed overview lists the hold with the desk's own reason, and the flash
    message is still there for the page the desk opens next."""
    reference = dashboard.reference_of("brazil@un.int")
    with dashboard.login() as client:
        token = token_of(client.get(f"/submissions/{reference}"))
        decided = client.post(
            f"/submissions/{reference}/decide",
            data={"csrf_token": token, "action": "hold", "reason": "Calling the mission"},
        )
        refreshed = client.get("/", headers={"X-Intake-Refresh": "1"})
        opened = client.get(f"/submissions/{reference}")

    assert decided.status_code == 303
    assert f"Held by {USER}: Calling the mission" in refreshed.text
    assert 'class="flash' not in refreshed.text
    assert f"{reference} is now held" in opened.text


def test_a_subject_and_a_file_name_with_a_script_render_as_text(dashboard: Dashboard) -> None:
    reference = dashboard.reference_of("brazil@un.int")
    with dashboard.login() as client:
        token = token_of(client.get(f"/submissions/{reference}"))
        client.post(
            f"/submissions/{reference}/decide",
            data={"csrf_token": token, "action": "hold", "reason": f"Check {XSS}", "notify": ""},
        )
        pages = {
            path: client.get(path).text
            for path in [
                "/",
                "/submissions",
                f"/submissions/{reference}",
                "/audit",
                "/replies",
                "/missing?meeting=PKO-SAFETY",
            ]
        }

    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    # Only our own files; the list pages also keep themselves current.
    refreshing = {"/", "/submissions", "/replies"}
    for path, html in pages.items():
        assert "<script>alert" not in html, path
        scripts = ['<script src="/static/countdown.js" defer>']
        if path in refreshing:
            scripts.append('<script src="/static/refresh.js" defer>')
        assert re.findall(r"<script\b[^>]*>", html) == scripts, path
    assert f"{escaped}.docx" in pages["/submissions"]  # the statement's file name
    assert f"statement {escaped}" in pages[f"/submissions/{reference}"]  # the subject
    assert f"{escaped}.docx" in pages[f"/submissions/{reference}"]
    assert f"Check {escaped}" in pages[f"/submissions/{reference}"]  # the desk's reason
    assert f"Check {escaped}" in pages["/audit"]


# -- downloads ---------------------------------------------------------------------------------


def test_the_desk_downloads_the_compilation_of_a_meeting_from_the_overview(
    dashboard: Dashboard,
) -> None:
    """Built on request from the accepted statements: France's is annexed, the late and
    the held ones are not."""
    with dashboard.login() as client:
        overview = client.get("/")
        compiled = client.get("/meetings/PKO-SAFETY/compilation.docx")
        nothing = client.get("/meetings/WPS-2021/compilation.docx")

    assert 'href="/meetings/PKO-SAFETY/compilation.docx"' in overview.text
    assert compiled.status_code == 200
    assert compiled.headers["content-type"] == "application/octet-stream"
    assert compiled.headers["content-disposition"].startswith("attachment;")
    document = docx.Document(io.BytesIO(compiled.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Annex I" in text
    assert "France" in text
    assert "Ghana" not in text
    assert nothing.status_code == 303  # no accepted statement: back to the overview, told why


def test_downloads_are_attachments_with_the_original_bytes_and_never_html(
    dashboard: Dashboard,
) -> None:
    documents = {d.filename: d for d in dashboard.rows(m.Document)}
    statement = documents[f"{XSS}.docx"]
    page = documents["page.html"]
    [original] = [
        a.content
        for a in samples.submission_attachments(
            mission_name="Brazil", statement_filename=f"{XSS}.docx"
        )
        if a.filename.endswith(".docx")
    ]
    with dashboard.client() as stranger:
        assert stranger.get(f"/documents/{statement.id}/download").status_code == 303
    with dashboard.login() as client:
        download = client.get(f"/documents/{statement.id}/download")
        html = client.get(f"/documents/{page.id}/download")
        missing = client.get("/documents/999999/download")

    assert download.status_code == 200
    assert download.content == original
    disposition = download.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="{statement.safe_name}"; ')
    assert "filename*=UTF-8''%3Cscript%3Ealert%281%29%3C%2Fscript%3E.docx" in disposition
    assert "<" not in disposition
    for response in (download, html):
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith("attachment;")
    assert html.content == f"<html>{XSS}</html>".encode()
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


# -- for machines ------------------------------------------------------------------------------

SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\})? (?P<value>-?[0-9.e+-]+|NaN|[+-]Inf)$'
)
COMMENT = re.compile(
    r"^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
    r"(counter|gauge|histogram|summary|untyped))$"
)


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples_found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    typed: set[str] = set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("#"):
            assert COMMENT.match(line), line
            if line.startswith("# TYPE "):
                typed.add(line.split()[2])
            continue
        match = SAMPLE.match(line)
        assert match, line
        assert match["name"] in typed, f"{match['name']} has no # TYPE line before it"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        samples_found[(match["name"], labels)] = float(match["value"])
    return samples_found


def test_metrics_parse_and_match_the_database(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = parse_metrics(response.text)

    def value(name: str, **labels: str) -> float:
        return found[(name, frozenset(labels.items()))]

    records = dashboard.rows(m.MessageRecord)
    for outcome in m.MessageOutcome:
        expected = sum(1 for r in records if r.outcome is outcome)
        assert value("intake_messages_total", outcome=outcome.value) == expected
    assert value("intake_messages_total", outcome="accepted") == 2
    replies = dashboard.rows(m.Reply)
    for status in ("sent", "failed", "pending"):
        expected = sum(1 for r in replies if r.status.value == status)
        assert value("intake_replies_total", status=status) == expected
    assert value("intake_replies_total", status="sent") == 4
    submissions = dashboard.rows(m.Submission)
    meetings = {mt.id: mt.code for mt in dashboard.rows(m.Meeting)}
    for code in ("PKO-SAFETY", "WPS-2021"):
        for status in m.SubmissionStatus:
            expected = sum(
                1 for s in submissions if meetings.get(s.meeting_id) == code and s.status is status
            )
            assert value("intake_submissions", meeting=code, status=status.value) == expected
    assert value("intake_submissions", meeting="none", status="held") == 1
    [run] = [r for r in dashboard.rows(m.WorkerRun) if r.ok]
    assert value("intake_last_success_timestamp_seconds") == pytest.approx(
        run.finished_at.timestamp()
    )
    assert 0 < value("intake_last_run_duration_seconds") < 120


def test_metric_labels_are_escaped() -> None:
    from pipeline.web.metrics import escape_label

    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_healthz_reports_the_database_and_the_last_good_run(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    [run] = [r for r in dashboard.rows(m.WorkerRun) if r.ok]
    assert body["last_successful_run"] == run.finished_at.isoformat()


def test_healthz_fails_with_a_broken_database_url(tmp_path: Path) -> None:
    broken = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing"
    settings = parse_settings(
        {"paths": {"data_dir": str(tmp_path)}, "database": {"url": broken}}, environ={}
    )
    with serve(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        health = client.get("/healthz")
        metrics = client.get("/metrics")
        login = client.get("/login")
        token = token_of(login)
        attempt = client.post(
            "/login", data={"csrf_token": token, "username": USER, "password": PASSWORD}
        )

    assert health.status_code == 503
    assert health.json() == {
        "status": "fail",
        "database": "unavailable",
        "last_successful_run": None,
    }
    assert metrics.status_code == 503
    assert login.status_code == 200, "the login page itself needs no database"
    assert attempt.status_code == 503
    assert "Database unavailable" in attempt.text
    assert "nobody@" not in attempt.text


# -- the pages ---------------------------------------------------------------------------------


def test_the_pages_show_the_queue_as_the_desk_needs_it(dashboard: Dashboard) -> None:
    france = dashboard.reference_of("france@un.int")
    ghana = dashboard.reference_of("ghana@un.int")
    with dashboard.login() as client:
        overview = client.get("/").text
        rejected = client.get("/submissions?meeting=PKO-SAFETY&status=rejected").text
        by_mission = client.get("/submissions?mission=FRA").text
        detail = client.get(f"/submissions/{ghana}").text
        missing = client.get("/missing?meeting=PKO-SAFETY").text
        replies = client.get("/replies?status=sent").text
        unknown = client.get("/submissions/NOPE-0001")
        bad_status = client.get("/submissions?status=lost")

    assert "PKO-SAFETY" in overview
    assert "WPS-2021" in overview
    assert "deadline passed" in overview
    assert "Held, no meeting" in overview
    assert ghana in rejected
    assert france not in rejected
    assert france in by_mission
    assert ghana not in by_mission
    assert "late" in detail
    assert "ghana@un.int" in detail
    assert "Statement_Ghana.docx" in detail
    assert "KB" in detail
    assert "Resend" in detail
    assert "submission filed" in detail  # the timeline
    assert "Ivoire" in missing
    assert "France" not in missing.split("<tbody>")[1]
    assert "france@un.int" in replies
    assert unknown.status_code == 404
    assert bad_status.status_code == 400


# -- the command line --------------------------------------------------------------------------


def _cli(intake: Intake, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, Any]:
    """The web commands, reading this test's configuration file."""
    monkeypatch.setenv("INTAKE_CONFIG", str(intake.write_config()))
    return CliRunner(), intake_app()


def test_intake_users_add_list_and_hash(intake: Intake, monkeypatch: pytest.MonkeyPatch) -> None:
    runner, app = _cli(intake, monkeypatch)

    added = runner.invoke(app, ["users", "add", "maria", "--password-stdin"], input=PASSWORD + "\n")
    again = runner.invoke(app, ["users", "add", "maria", "--password-stdin"], input=PASSWORD + "\n")
    short = runner.invoke(app, ["users", "add", "li", "--password-stdin"], input="short\n")
    prompted = runner.invoke(app, ["users", "add", "ana"], input=f"{PASSWORD}\n{PASSWORD}\n")
    listed = runner.invoke(app, ["users", "list"])
    hashed = runner.invoke(app, ["users", "hash", "--password-stdin"], input=PASSWORD + "\n")

    assert added.exit_code == 0, added.output
    assert "desk user maria added" in added.output
    assert again.exit_code == 2
    assert "exists already" in again.output
    assert short.exit_code == 2
    assert "too short" in short.output
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output
    assert listed.exit_code == 0
    assert re.search(r"^ana\s+database$", listed.output, re.MULTILINE)
    assert re.search(r"^maria\s+database$", listed.output, re.MULTILINE)
    assert hashed.exit_code == 0
    from argon2 import PasswordHasher

    assert PasswordHasher().verify(hashed.output.strip(), PASSWORD)
    with pytest.raises(ValueError, match="at least 10 characters"):
        add_user(make_engine(intake.settings.database_url), "bob", "123456789")
    with pytest.raises(ValueError, match="empty"):
        add_user(make_engine(intake.settings.database_url), "bob", "")


def test_intake_web_says_so_in_one_line_when_the_port_is_taken(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, app = _cli(intake, monkeypatch)
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = runner.invoke(app, ["web", "--host", LOOPBACK, "--port", str(port)])

    assert result.exit_code == 1
    assert f"port {port} on {LOOPBACK} is already in use" in result.output


def test_intake_web_serves_the_dashboard(intake: Intake) -> None:
    """The real command in a subprocess: it starts, answers /healthz, stops on SIGTERM."""
    intake.run()
    config = intake.write_config()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None, process.stderr.read() if process.stderr else ""
        assert health.status_code == 200
        assert health.json()["last_successful_run"] is not None
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert f"dashboard on http://127.0.0.1:{port}/" in out
    assert "no desk users yet" in err


def test_a_missing_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = parse_settings({"paths": {"data_dir": str(tmp_path)}}, environ={})

    first = cookie.load_secret_key(settings)
    second = cookie.load_secret_key(settings)

    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "web-secret").stat().st_mode & 0o777 == 0o600
    key = secrets.token_urlsafe(32)
    configured = parse_settings(
        {"paths": {"data_dir": str(tmp_path)}, "web": {"secret_key": key}}, environ={}
    )
    assert cookie.load_secret_key(configured) == key


def test_a_user_removed_from_the_database_is_signed_out(dashboard: Dashboard) -> None:
    """A user removed from the database is signed out at the next request."""
    with dashboard.login() as client:
        assert client.get("/").status_code == 200
        with Session(dashboard.engine) as session:
            for row in session.exec(select(m.DeskUser).where(col(m.DeskUser.name) == USER)):
                session.delete(row)
            session.commit()
        assert client.get("/").status_code == 303


@pytest.mark.parametrize(
    "words",
    [
        ["web"],
        ["users"],
        ["users", "add"],
        ["users", "hash"],
        ["users", "list"],
        ["users", "passwd"],
        ["users", "remove"],
    ],
)
def test_the_web_commands_explain_themselves(words: list[str]) -> None:
    result = CliRunner().invoke(intake_app(), [*words, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.split()) > 15
