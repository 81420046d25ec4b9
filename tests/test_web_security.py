"""Attacks on the dashboard's sign-in and sessions, performed against the real program
(issue 12, points 2, 4 and 6c; docs/security.md, "Defences and their tests").

- a session cookie copied before the officer signs out, changes the password or is
  removed (`intake users passwd`, `intake users remove`: the real command) stops working
  at once, its CSRF token with it; a cookie forged with the real key but no session on
  the server never worked;
- a weak `[web] secret_key` is refused by every command, in one line;
- password guessing: 60 wrong passwords lock the account (the right one is refused until
  the lockout ends), many accounts from one address lock the address, the audit log
  shows it; parallel attempts never compute more than two argon2 hashes at once, and a
  signed-in officer's page is served while they wait;
- a database id too large for the database is a 404, not a 500.

The dashboard is served by uvicorn in a thread over SQLite and PostgreSQL (the `intake`
fixture); addresses other than 127.0.0.1 come in `X-Forwarded-For`, which uvicorn takes
from 127.0.0.1 as it does from the reverse proxy in production.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from itsdangerous import TimestampSigner
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from typer.testing import CliRunner

from pipeline.configuration import ConfigError, parse_settings
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from pipeline.storage.prepare import prepare
from pipeline.web import clock, passwords
from pipeline.web.accounts import add_user
from pipeline.web.app import create_app
from pipeline.web.context import WebContext
from pipeline.web.cookie import SESSION_COOKIE, SESSION_ID, load_secret_key
from pipeline.web.passwords import hash_password
from tests.conftest import Intake
from tests.helpers.web import CSRF, PASSWORD, USER, Dashboard, fill, intake_app, serve, token_of

NEW_PASSWORD = "another long desk password"
GOOD_KEY = secrets.token_urlsafe(32)
LOCKED = "Too many failed sign-ins"
WRONG = "Wrong user name or password"


# -- the dashboard, and the real command ------------------------------------------------------


@dataclass
class Board(Dashboard):
    app: Starlette

    @property
    def context(self) -> WebContext:
        ctx: WebContext = self.app.state.intake
        return ctx

    def client_from(self, address: str) -> httpx.Client:
        """A browser elsewhere: the address as the reverse proxy passes it on."""
        return httpx.Client(
            base_url=self.url,
            follow_redirects=False,
            timeout=120,
            headers={"X-Forwarded-For": address},
        )

    def replay(self, cookie: str, method: str, url: str, **data: str) -> httpx.Response:
        """One request carrying a copied cookie, as someone who found it would send it."""
        with httpx.Client(base_url=self.url, follow_redirects=False, timeout=60) as client:
            return client.request(
                method, url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, data=data or None
            )

    def events(self, kind: m.AuditKind) -> list[m.AuditEvent]:
        with Session(self.engine) as session:
            query = select(m.AuditEvent).where(col(m.AuditEvent.kind) == kind)
            return list(session.exec(query.order_by(col(m.AuditEvent.id))))


@contextmanager
def board(intake: Intake, *, filled: bool) -> Iterator[Board]:
    if filled:
        fill(intake)
    engine = prepare(intake.settings)
    add_user(engine, USER, PASSWORD)
    app = create_app(intake.settings, engine=engine)
    try:
        with serve(app) as url:
            yield Board(url=url, intake=intake, engine=engine, app=app)
    finally:
        engine.dispose()


@pytest.fixture
def dashboard(intake: Intake) -> Iterator[Board]:
    """The dashboard over a database the real pipeline filled."""
    with board(intake, filled=True) as served:
        yield served


@pytest.fixture
def quiet(intake: Intake) -> Iterator[Board]:
    """The dashboard over an empty database with one desk user: enough to guess at."""
    with board(intake, filled=False) as served:
        yield served


def intake_command(
    *args: str, config: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`intake ...` as an operator runs it: a new process, the configuration file."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def to_login(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login")


# -- a stolen cookie ----------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_is_refused_after_it_with_its_csrf_token(
    dashboard: Board,
) -> None:
    reference = dashboard.reference_of("france@un.int")
    with dashboard.login() as officer:
        token = token_of(officer.get(f"/submissions/{reference}"))
        stolen = officer.cookies[SESSION_COOKIE]
        assert dashboard.replay(stolen, "GET", "/").status_code == 200  # a working copy
        assert officer.post("/logout", data={"csrf_token": token}).status_code == 303
    decisions = len(dashboard.rows(m.Decision))
    mails = len(dashboard.intake.replies())

    page = dashboard.replay(stolen, "GET", "/")
    decide = dashboard.replay(
        stolen,
        "POST",
        f"/submissions/{reference}/decide",
        csrf_token=token,
        action="reject",
        reason="Forged",
        notify="yes",
    )
    download = dashboard.replay(stolen, "GET", "/documents/1/download")

    assert to_login(page)
    assert to_login(decide)
    assert to_login(download)
    [row] = [r for r in dashboard.intake.queue() if r.reference == reference]
    assert row.status == "accepted"
    assert len(dashboard.rows(m.Decision)) == decisions
    assert len(dashboard.intake.replies()) == mails
    assert [e.actor for e in dashboard.events(m.AuditKind.LOGOUT)] == [USER]


def test_a_cookie_forged_with_the_real_key_but_no_session_on_the_server_is_refused(
    intake: Intake,
) -> None:
    """Even a leaked key does not let anyone in: the cookie names a session the server
    must know. (Before issue 12 a cookie saying `{"user": ...}` was enough.)"""
    intake.reconfigure(web={"secret_key": GOOD_KEY})
    with board(intake, filled=False) as served:
        with served.login() as officer:
            real = officer.cookies[SESSION_COOKIE]
        claims = json.loads(base64.b64decode(TimestampSigner(GOOD_KEY).unsign(real)))
        forged_claims = [
            {"user": USER, "login_at": time.time(), "csrf": "x"},
            {**claims, SESSION_ID: secrets.token_urlsafe(32)},
        ]
        answers = []
        for forged in forged_claims:
            payload = base64.b64encode(json.dumps(forged).encode())
            cookie = TimestampSigner(GOOD_KEY).sign(payload).decode()
            answers.append(served.replay(cookie, "GET", "/"))

    assert set(claims) >= {SESSION_ID}
    assert all(to_login(answer) for answer in answers)


def test_intake_users_passwd_ends_the_sessions_of_the_user_at_once(dashboard: Board) -> None:
    config = dashboard.intake.write_config()
    with dashboard.login() as officer, dashboard.login() as laptop:
        assert officer.get("/").status_code == 200
        stolen = officer.cookies[SESSION_COOKIE]

        changed = intake_command(
            "users", "passwd", USER, "--password-stdin", config=config, stdin=NEW_PASSWORD + "\n"
        )

        assert changed.returncode == 0, changed.stderr
        assert to_login(officer.get("/"))
        assert to_login(laptop.get("/"))
    assert to_login(dashboard.replay(stolen, "GET", "/"))
    assert f"password of {USER} changed" in changed.stdout
    assert NEW_PASSWORD not in changed.stdout + changed.stderr
    with dashboard.client() as client:
        assert dashboard.sign_in(client, USER, PASSWORD).status_code == 401
        assert dashboard.sign_in(client, USER, NEW_PASSWORD).status_code == 303
    [event] = dashboard.events(m.AuditKind.DESK_PASSWORD_CHANGED)
    assert event.detail == {"user": USER, "sessions_ended": 2}


def test_intake_users_remove_ends_the_sessions_of_the_user_at_once(dashboard: Board) -> None:
    config = dashboard.intake.write_config()
    with dashboard.login() as officer:
        stolen = officer.cookies[SESSION_COOKIE]

        removed = intake_command("users", "remove", USER, config=config)

        assert removed.returncode == 0, removed.stderr
        assert to_login(officer.get("/"))
    assert to_login(dashboard.replay(stolen, "GET", "/"))
    assert f"desk user {USER} removed" in removed.stdout
    listed = intake_command("users", "list", config=config)
    assert USER not in listed.stdout
    with dashboard.client() as client:
        assert dashboard.sign_in(client, USER, PASSWORD).status_code == 401
    again = intake_command("users", "remove", USER, config=config)
    assert again.returncode == 2
    assert "no desk user" in one_line(again.stderr)
    assert dashboard.events(m.AuditKind.DESK_USER_REMOVED)[0].detail["user"] == USER


def test_a_user_from_the_configuration_file_is_neither_removed_nor_given_a_password(
    intake: Intake,
) -> None:
    config = intake.write_config(
        desk={"users": [{"name": "chief", "password_hash": hash_password(PASSWORD)}]}
    )
    prepare(intake.settings).dispose()

    removed = intake_command("users", "remove", "chief", config=config)
    changed = intake_command(
        "users", "passwd", "chief", "--password-stdin", config=config, stdin=NEW_PASSWORD + "\n"
    )

    for result in (removed, changed):
        assert result.returncode == 2
        line = one_line(result.stderr)
        assert "chief is defined in the configuration file" in line
        assert "[[desk.users]]" in line


def test_intake_users_passwd_asks_twice_and_refuses_a_short_password(
    quiet: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_CONFIG", str(quiet.intake.write_config()))
    runner, app = CliRunner(), intake_app()

    prompted = runner.invoke(app, ["users", "passwd", USER], input=f"{NEW_PASSWORD}\n" * 2)
    short = runner.invoke(app, ["users", "passwd", USER, "--password-stdin"], input="short\n")
    unknown = runner.invoke(
        app, ["users", "passwd", "nobody", "--password-stdin"], input=NEW_PASSWORD + "\n"
    )

    assert prompted.exit_code == 0, prompted.output
    assert NEW_PASSWORD not in prompted.output
    assert short.exit_code == 2
    assert "too short" in short.output
    assert unknown.exit_code == 2
    assert "no desk user named 'nobody'" in unknown.output
    with quiet.client() as client:
        assert quiet.sign_in(client, USER, NEW_PASSWORD).status_code == 303


def test_a_new_password_lifts_the_lockout_of_the_name(
    quiet: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone kept guessing at an officer's name: the operator gives a new password, and
    the officer signs in with it at once (the guesses were at the old one)."""
    limit = quiet.intake.settings.web.login_failures_per_user
    with quiet.client_from("198.51.100.66") as attacker:
        for _ in range(limit):
            assert quiet.sign_in(attacker, USER, "a wrong password").status_code == 401
    with quiet.client() as officer:
        assert quiet.sign_in(officer, USER, PASSWORD).status_code == 429
        monkeypatch.setenv("INTAKE_CONFIG", str(quiet.intake.write_config()))
        changed = CliRunner().invoke(
            intake_app(), ["users", "passwd", USER, "--password-stdin"], input=NEW_PASSWORD
        )
        assert changed.exit_code == 0, changed.output
        assert quiet.sign_in(officer, USER, NEW_PASSWORD).status_code == 303


# -- the key that signs the cookies ----------------------------------------------------------


WEAK_KEYS = [
    "qz7",  # recovered offline from a login-page cookie in half a second
    secrets.token_urlsafe(23),  # random, but 31 characters
    "k" * 40,
    "q7Zx9Lm2Wp" * 4,  # ten different characters, one pattern
    "passwordpasswordpasswordpassword1",
    "0123456789abcdefghijklmnopqrstuvwxyz",
]


WEAK_KEY_NAMES = ["recovered", "random-31", "one-letter", "pattern", "word", "alphabet"]


@pytest.mark.parametrize("key", WEAK_KEYS, ids=WEAK_KEY_NAMES)
def test_a_weak_secret_key_is_refused_by_every_command_in_one_line(
    tmp_path: Path, key: str
) -> None:
    config = tmp_path / "intake.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    env = {"INTAKE_WEB__SECRET_KEY": key}

    checked = intake_command("config", "check", config=config, env=env)
    served = intake_command("web", "--port", "1", config=config, env=env)

    for result in (checked, served):
        assert result.returncode == 2, result.stdout + result.stderr
        line = one_line(result.stderr)
        assert "web.secret_key" in line
        assert "secrets.token_urlsafe(32)" in line
        assert key not in line
    assert not (tmp_path / "data").exists(), "nothing was started"


@pytest.mark.parametrize(
    "key",
    [
        GOOD_KEY,
        secrets.token_hex(16),  # 32 hexadecimal digits: 128 bits
        base64.b64encode(os.urandom(32)).decode(),  # openssl rand -base64 32
    ],
    ids=["token_urlsafe", "token_hex", "base64"],
)
def test_a_random_secret_key_is_accepted(tmp_path: Path, key: str) -> None:
    settings = parse_settings(
        {"paths": {"data_dir": str(tmp_path)}}, environ={"INTAKE_WEB__SECRET_KEY": key}
    )

    assert load_secret_key(settings) == key


def test_the_check_judges_the_key_not_the_file(tmp_path: Path) -> None:
    """An empty key means "not set" (the generated key file); the example's placeholder
    passes `config check` with the other example secrets but `intake web` refuses it."""
    empty = parse_settings(
        {"paths": {"data_dir": str(tmp_path)}, "web": {"secret_key": ""}}, environ={}
    )
    assert len(load_secret_key(empty)) >= 32
    with pytest.raises(ConfigError, match=r"^web\.secret_key: .*too weak"):
        parse_settings({"web": {"secret_key": "k" * 40}}, environ={})
    placeholder = parse_settings(
        {"paths": {"data_dir": str(tmp_path)}},
        environ={"INTAKE_WEB__SECRET_KEY": "CHANGE-ME-to-a-long-random-string-of-48-characters"},
    )
    with pytest.raises(ValueError, match="placeholder"):
        load_secret_key(placeholder)


# -- password guessing -------------------------------------------------------------------------


def test_sixty_wrong_passwords_lock_the_account_and_the_right_one_waits_for_the_lockout(
    quiet: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = quiet.intake.settings.web
    second_engine = make_engine(quiet.intake.settings.database_url)
    other = create_app(quiet.intake.settings, engine=second_engine)
    try:
        # Two dashboards on one database, as behind a load balancer: the count is shared.
        with serve(other) as other_url, quiet.client() as attacker:
            attacker_b = httpx.Client(base_url=other_url, follow_redirects=False, timeout=120)
            answers = []
            for number in range(60):
                client = attacker if number % 2 else attacker_b
                answers.append(quiet.sign_in(client, USER, f"guess number {number:02d}"))
            right = quiet.sign_in(attacker, USER, PASSWORD)
            with quiet.client_from("198.51.100.20") as officer:
                elsewhere = quiet.sign_in(officer, USER, PASSWORD)
            attacker_b.close()
    finally:
        second_engine.dispose()

    limit = web.login_failures_per_user
    assert [a.status_code for a in answers[:limit]] == [401] * limit
    assert {a.status_code for a in answers[limit:]} == {429}
    for refused in (right, elsewhere):
        assert refused.status_code == 429
        assert LOCKED in refused.text
        assert WRONG not in refused.text
    failures = quiet.events(m.AuditKind.LOGIN_FAILED)
    assert len(failures) == limit
    assert {e.detail["user"] for e in failures} == {USER}
    assert {e.detail["address"] for e in failures} == {"127.0.0.1"}
    [locked] = quiet.events(m.AuditKind.LOGIN_LOCKED)
    assert locked.detail["user"] == USER
    assert locked.detail["address"] == "127.0.0.1"
    assert not quiet.events(m.AuditKind.LOGIN)

    # After the lockout the right password works again, from anywhere.
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + web.login_lockout_minutes * 60 + 1)
    with quiet.login() as desk:
        page = desk.get("/audit")
    assert page.status_code == 200
    assert "login failed" in page.text
    assert "login locked" in page.text
    [login] = quiet.events(m.AuditKind.LOGIN)
    assert login.actor == USER


def test_an_unknown_name_is_locked_out_exactly_like_a_real_one(quiet: Board) -> None:
    """The lockout message does not tell whether the account exists."""
    limit = quiet.intake.settings.web.login_failures_per_user
    texts: dict[str, list[tuple[int, str]]] = {}
    for name, address in ((USER, "198.51.100.1"), ("no.such.officer", "198.51.100.2")):
        with quiet.client_from(address) as client:
            answers = [quiet.sign_in(client, name, "not the password") for _ in range(limit + 2)]
        texts[name] = [(a.status_code, CSRF.sub("", a.text.replace(name, "N"))) for a in answers]

    assert texts[USER] == texts["no.such.officer"]
    assert [status for status, _ in texts[USER]] == [401] * limit + [429, 429]


def test_many_accounts_from_one_address_lock_the_address(quiet: Board) -> None:
    limit = quiet.intake.settings.web.login_failures_per_address
    names = [f"officer{number:02d}" for number in range(limit)]

    def guess(name: str) -> int:
        with quiet.client_from("203.0.113.9") as client:
            return quiet.sign_in(client, name, "a wrong password").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(guess, names))
    with quiet.client_from("203.0.113.9") as client:
        same_address = quiet.sign_in(client, USER, PASSWORD)
    with quiet.client_from("203.0.113.10") as client:
        next_address = quiet.sign_in(client, USER, PASSWORD)

    assert statuses == [401] * limit
    assert same_address.status_code == 429
    assert LOCKED in same_address.text
    assert next_address.status_code == 303
    [locked] = quiet.events(m.AuditKind.LOGIN_LOCKED)
    assert locked.detail["address"] == "203.0.113.9"


def test_parallel_guesses_compute_two_hashes_at_once_and_the_desk_keeps_working(
    quiet: Board,
) -> None:
    """40 attempts at once, each from its own address under its own name (no lockout
    cuts them short): never more than two argon2 verifications run at the same time, an
    unknown name costs a verification like a wrong password, and a signed-in officer's
    page is served while the guesses still queue for the hashing slots."""
    gate = quiet.context.password_checks
    before = gate.checks
    with quiet.login() as officer:
        assert officer.get("/").status_code == 200
        checked_by_login = gate.checks - before

        def guess(number: int) -> int:
            name = USER if number == 0 else f"guess{number:02d}"
            with quiet.client_from(f"192.0.2.{number + 1}") as client:
                return quiet.sign_in(client, name, "a wrong password").status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            storm = pool.map(guess, range(40))
            deadline = time.monotonic() + 60
            while gate.waiting < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            queued_when_asked = gate.waiting
            page = officer.get("/submissions")
            queued_when_served = gate.waiting + gate.running
            statuses = list(storm)

    assert checked_by_login == 1
    assert statuses == [401] * 40
    assert gate.checks - before == 41, "an unknown name costs one verification too"
    assert 1 <= gate.peak <= passwords.PASSWORD_CHECK_SLOTS == 2
    assert queued_when_asked >= 10
    assert page.status_code == 200
    assert queued_when_served > 0, "the page waited for the guesses to be hashed"
    assert gate.running == gate.waiting == 0


# -- ids in URLs --------------------------------------------------------------------------------


def test_an_id_too_large_for_the_database_is_not_found(dashboard: Board) -> None:
    huge = "1" * 23
    with dashboard.login() as officer:
        token = token_of(officer.get("/replies"))
        answers = [
            officer.get(f"/documents/{huge}/download"),
            officer.get(f"/documents/{2**31}/download"),
            officer.post(f"/replies/{huge}/resend", data={"csrf_token": token}),
            officer.post(f"/replies/{huge}/cancel", data={"csrf_token": token, "reason": "x"}),
            officer.post(f"/replies/{2**63}/cancel", data={"csrf_token": token, "reason": "x"}),
        ]
        still_fine = officer.get("/documents/1/download")

    assert [a.status_code for a in answers] == [404] * 5
    assert all("Not found" in a.text for a in answers)
    assert still_fine.status_code == 200


def test_the_password_gate_counts_in_the_event_loop() -> None:
    """The gauge the parallel story reads is kept by the event loop's thread only."""
    gate = passwords.PasswordChecks(slots=2)
    seen: list[int] = []

    def work() -> bool:
        seen.append(threading.get_ident())
        time.sleep(0.05)
        return True

    import asyncio

    async def many() -> list[bool]:
        return list(await asyncio.gather(*(gate.run(work) for _ in range(6))))

    assert asyncio.run(many()) == [True] * 6
    assert gate.peak == 2
    assert gate.checks == 6
    assert gate.running == gate.waiting == 0


# -- SQL in what a stranger or an officer types (an attack that held; stays covered) ----------

SQL = "' OR '1'='1' --"


def test_sql_typed_into_urls_filters_and_the_sign_in_form_is_taken_as_text(
    dashboard: Board,
) -> None:
    with Session(dashboard.engine) as session:
        references = list(session.exec(select(m.Submission.reference)))
        tables_before = len(list(session.exec(select(m.Submission))))
    assert references

    with dashboard.client() as stranger:
        guessed = dashboard.sign_in(stranger, f"{USER}{SQL}", f"x{SQL}")
    with dashboard.login() as officer:
        by_meeting = officer.get("/submissions", params={"meeting": f"PKO-SAFETY{SQL}"})
        by_mission = officer.get("/submissions", params={"mission": f"FRA{SQL}"})
        by_reference = officer.get(f"/submissions/{references[0]}{SQL}")
        missing = officer.get("/missing", params={"meeting": f"PKO-SAFETY{SQL}"})
        by_status = officer.get("/submissions", params={"status": f"accepted{SQL}"})
        everything = officer.get("/submissions")

    assert guessed.status_code == 401
    assert WRONG in guessed.text
    for filtered in (by_meeting, by_mission):
        assert filtered.status_code == 200
        assert not any(reference in filtered.text for reference in references)
    assert by_reference.status_code == 404
    assert missing.status_code == 404
    assert by_status.status_code == 400
    assert all(reference in everything.text for reference in references)
    with Session(dashboard.engine) as session:
        assert len(list(session.exec(select(m.Submission)))) == tables_before
