"""Fixtures: a real Dovecot, a real SMTP server, SQLite and PostgreSQL.

Every story runs against both databases. PostgreSQL is the server at 127.0.0.1:5432
(trust auth); each test session works in a database of its own, created and dropped
here. Outside CI a missing PostgreSQL skips those runs with a clear reason; in CI
(`CI=true`) it fails them, so a green CI always means both databases were tested.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from pipeline.configuration import parse_settings
from pipeline.devservers.dovecot import ThrowawayDovecot
from pipeline.devservers.smtp import CapturedMessage, CapturingSMTPServer
from pipeline.documents.convert import find_libreoffice
from pipeline.settings import Settings
from pipeline.settings.toml_writer import to_toml
from pipeline.storage import models as m
from pipeline.storage.db import make_engine
from pipeline.storage.queries import SubmissionRow, list_submissions
from pipeline.worker.run import RunReport, run_once
from tests.helpers.office_files import make_office_files

NEW_YORK = ZoneInfo("America/New_York")
SUBMISSIONS = "submissions@intake.example"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_user_numbers = itertools.count(1)
# Each story's submissions mailbox is a user of its own. Dovecot sees a user added while it
# runs only in the next wall-clock second (devservers/dovecot.py waits for it), so the
# session's servers get a pool of users before they start and a story takes the next one.
_POOLED_USERS = 1500
_MAILBOX_PASSWORD = "correct horse"


def _pooled(server: ThrowawayDovecot) -> ThrowawayDovecot:
    for number in range(1, _POOLED_USERS + 1):
        server.add_user(f"submissions{number}", _MAILBOX_PASSWORD)
    return server


# Figures the reliability stories measure (messages, kills, duplicates, losses): printed
# at the end of every test run, so CI logs show them without `pytest -s`. The tests may
# run in several pytest-xdist workers: each appends its lines to a file in a folder the
# main process made, and the main process prints them all.
FIGURES_ENV = "PYTEST_INTAKE_FIGURES_DIR"

Report = Callable[[str], None]


def pytest_configure(config: pytest.Config) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        os.environ[FIGURES_ENV] = tempfile.mkdtemp(prefix="intake-figures-")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup` (deploy/test.sh) a test file runs in one worker, so its
    module fixtures and servers start once, as `--dist loadfile` would do; a test that
    names its own `xdist_group` (a point of the crash matrix) may run beside the others
    of its file. Runs before xdist reads the groups."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def add_figures(source: str, line: str) -> None:
    """One line for the run's "figures" summary, under the name of what measured it."""
    print(line)
    folder = os.environ.get(FIGURES_ENV)
    if folder:
        with (Path(folder) / f"{os.getpid()}.jsonl").open("a", encoding="utf-8") as file:
            file.write(json.dumps([source, line]) + "\n")


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> Report:
    """`report_figures("...")` records one line for the run's "figures" summary."""
    return partial(add_figures, request.node.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    folder = os.environ.get(FIGURES_ENV)
    if not folder or "PYTEST_XDIST_WORKER" in os.environ or not Path(folder).is_dir():
        return
    figures: list[tuple[str, str]] = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        for text in path.read_text(encoding="utf-8").splitlines():
            source, line = json.loads(text)
            figures.append((source, line))
    shutil.rmtree(folder, ignore_errors=True)
    if not figures:
        return
    terminalreporter.section("figures")
    for nodeid, line in sorted(figures, key=lambda item: item[0]):
        terminalreporter.write_line(f"{nodeid}: {line}")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[ThrowawayDovecot]:
    with _pooled(ThrowawayDovecot()) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_inbox_prefix() -> Iterator[ThrowawayDovecot]:
    """A Dovecot laid out like Courier, Cyrus and many hosted servers: the personal
    namespace is `INBOX.` with `.` between levels, so every folder lives below INBOX."""
    with _pooled(ThrowawayDovecot(namespace_prefix="INBOX.", separator=".")) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[CapturingSMTPServer]:
    with CapturingSMTPServer() as server:
        yield server


@pytest.fixture
def smtp(smtp_server: CapturingSMTPServer) -> Iterator[CapturingSMTPServer]:
    smtp_server.clear()
    smtp_server.reject_with = None
    if not smtp_server.running:
        smtp_server.start()
    yield smtp_server
    smtp_server.reject_with = None
    if not smtp_server.running:
        smtp_server.start()


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    problem = _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL at 127.0.0.1:5432 is not reachable: {problem}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    name = f"intake_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The stories run on both databases in CI; a quick local `deploy/test.sh -m "not slow"`
# runs them on SQLite only (storage differences are the PostgreSQL runs' job).
@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.slow]),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'intake.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    _drop_everything(url)
    yield url
    _drop_everything(url)


def _drop_everything(url: str) -> None:
    engine = sa.create_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


PKO_SAFETY = {
    "code": "PKO-SAFETY",
    "title": (
        "United Nations peacekeeping operations: improving the safety and security of peacekeepers"
    ),
    "date": "2021-05-24",
}

MISSIONS: dict[str, dict[str, list[str]]] = {
    "FRA": {"senders": ["france@un.int", "@diplomatie.gouv.fr"]},
    "CIV": {"senders": ["cotedivoire@un.int"]},
    "GHA": {"senders": ["ghana@un.int"]},
    "JPN": {"senders": ["japan@un.int"]},
    "BRA": {"senders": ["brazil@un.int"]},
    "VAT": {"senders": ["holysee@un.int"]},
    "EUU": {"senders": ["@eeas.europa.eu"]},
}


@dataclass
class Intake:
    """The system under test, seen from the outside: a mailbox, a worker, replies, a queue."""

    dovecot: ThrowawayDovecot
    smtp: CapturingSMTPServer
    user: str
    password: str
    settings: Settings
    config_data: dict[str, Any]
    tmp_path: Path
    reports: list[RunReport] = field(default_factory=list)

    def deliver(self, raw: bytes, *, at: datetime | None = None) -> int:
        """A mail reaches the submissions mailbox; `at` is the server's time of receipt."""
        return self.dovecot.append(self.user, self.password, raw, internaldate=at)

    def run(self, **kwargs: Any) -> RunReport:
        report = run_once(self.settings, **kwargs)
        self.reports.append(report)
        return report

    def replies(self, count: int | None = None, timeout: float = 5.0) -> list[CapturedMessage]:
        if count is None:
            return list(self.smtp.messages)
        return self.smtp.wait_for(count, timeout)

    def delivered(self) -> list[CapturedMessage]:
        """Every reply the SMTP server holds once the runs that sent them are done, held
        against the outbox: each reply it marks sent arrived exactly once, and nothing
        else arrived. The capture server stores a message before it answers the DATA
        command, so nothing is still on its way: there is nothing to wait for."""
        sent = Counter(r.message_id for r in self.rows(m.Reply) if r.status is m.ReplyStatus.SENT)
        received = Counter(str(c.message["Message-ID"]) for c in self.smtp.messages)
        assert received == sent, "the SMTP server and the outbox disagree"
        return list(self.smtp.messages)

    def replies_to(self, address: str) -> list[CapturedMessage]:
        return [r for r in self.smtp.messages if address in r.rcpt_tos]

    def queue(self, **filters: Any) -> list[SubmissionRow]:
        engine = make_engine(self.settings.database_url)
        try:
            with Session(engine) as session:
                return list_submissions(session, **filters)
        finally:
            engine.dispose()

    def ledger(self) -> list[m.MessageRecord]:
        engine = make_engine(self.settings.database_url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(m.MessageRecord).order_by(col(m.MessageRecord.id))))
        finally:
            engine.dispose()

    def rows(self, model: type[Any]) -> list[Any]:
        engine = make_engine(self.settings.database_url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(model)))
        finally:
            engine.dispose()

    def folder(self, name: str) -> list[int]:
        """UIDs in a folder given as in the config (`Intake/Accepted`), which the server
        keeps under its personal namespace (`INBOX.Intake.Accepted`); [] if it is absent."""
        prefix, separator = self.personal_namespace
        server_name = name.replace("/", separator)
        if not server_name.startswith(prefix):
            server_name = prefix + server_name
        if server_name not in self.dovecot.list_folders(self.user, self.password):
            return []
        return self.dovecot.folder_uids(self.user, self.password, server_name)

    @property
    def inbox(self) -> list[int]:
        return self.dovecot.folder_uids(self.user, self.password, "INBOX")

    @property
    def delimiter(self) -> str:
        with self.dovecot.imap_client(self.user, self.password) as client:
            folders = client.list_folders()
        for _flags, delimiter, _name in folders:
            if delimiter:
                return delimiter.decode() if isinstance(delimiter, bytes) else str(delimiter)
        return "/"

    @property
    def personal_namespace(self) -> tuple[str, str]:
        """The server's personal namespace (RFC 2342): its prefix and separator."""
        with self.dovecot.imap_client(self.user, self.password) as client:
            [(prefix, separator), *_others] = client.namespace().personal
        return str(prefix), str(separator)

    def write_config(self, path: Path | None = None, **changes: Any) -> Path:
        """The same configuration as a TOML file, for tests that run the real command."""
        data = _merge(self.config_data, changes)
        path = path or self.tmp_path / "intake.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        return path

    def reconfigure(self, **changes: Any) -> None:
        self.config_data = _merge(self.config_data, changes)
        self.settings = parse_settings(self.config_data, environ={})


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def intake(
    dovecot: ThrowawayDovecot,
    smtp: CapturingSMTPServer,
    database_url: str,
    tmp_path: Path,
) -> Intake:
    """A fresh submissions mailbox, an empty database and a configured Intake."""
    return make_intake(dovecot, smtp, database_url, tmp_path)


@pytest.fixture
def intake_inbox_prefix(
    dovecot_inbox_prefix: ThrowawayDovecot,
    smtp: CapturingSMTPServer,
    database_url: str,
    tmp_path: Path,
) -> Intake:
    """The same, on the server whose folders all live below `INBOX.`."""
    return make_intake(dovecot_inbox_prefix, smtp, database_url, tmp_path)


def make_intake(
    dovecot: ThrowawayDovecot, smtp: CapturingSMTPServer, database_url: str, tmp_path: Path
) -> Intake:
    """A new user on `dovecot` for the submissions mailbox, and the configuration of the
    Intake that reads it, files into `database_url` and answers through `smtp`."""
    number = next(_user_numbers)
    user = f"submissions{number}"
    password = _MAILBOX_PASSWORD
    if number > _POOLED_USERS:
        dovecot.add_user(user, password)
    data: dict[str, Any] = {
        "paths": {"data_dir": str(tmp_path / "data")},
        "database": {"url": database_url},
        "mailbox": {
            "host": dovecot.host,
            "port": dovecot.port,
            "security": "none",
            "username": user,
            "password": password,
            "timeout": 10,
        },
        "smtp": {
            "host": smtp.host,
            "port": smtp.port,
            "security": "none",
            "sender": SUBMISSIONS,
            "timeout": 10,
        },
        "contacts": {
            "service_desk": "the service desk at servicedesk@intake.example",
            "secretariat": "the Security Council Affairs Division",
        },
        "meetings": [dict(PKO_SAFETY)],
        "missions": MISSIONS,
    }
    return Intake(
        dovecot=dovecot,
        smtp=smtp,
        user=user,
        password=password,
        settings=parse_settings(data, environ={}),
        config_data=data,
        tmp_path=tmp_path,
    )


NO_SOFFICE = "LibreOffice is not installed: apt-get install libreoffice-writer-nogui"


@pytest.fixture(scope="session")
def soffice() -> str:
    """The LibreOffice binary. Outside CI its absence skips; in CI it fails the test."""
    binary = find_libreoffice()
    if binary is None:
        if IN_CI:
            pytest.fail(NO_SOFFICE)
        pytest.skip(NO_SOFFICE)
    return binary


@pytest.fixture(scope="session")
def office_files(
    soffice: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    """Real files made by LibreOffice, in the six languages (see tests/helpers/office_files.py)."""
    return make_office_files(tmp_path_factory.mktemp("office"))


def ny(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A moment in New York time, as the deadline rules are written."""
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


def text_of(reply: CapturedMessage) -> str:
    """A reply's text with line breaks folded, so phrases can be looked for whole."""
    return " ".join(str(reply.message.get_content()).split())
