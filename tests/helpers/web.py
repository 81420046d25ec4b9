"""The dashboard as the web tests meet it: served by a real uvicorn on a free port,
over a database the real pipeline filled, with one desk user to sign in as."""

from __future__ import annotations

import errno
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette

from pipeline.demo import samples
from pipeline.demo.mail import Attachment
from pipeline.devservers.ports import LOOPBACK, free_port
from tests.conftest import PKO_SAFETY, SUBMISSIONS, Intake, ny

ON_TIME = ny(2021, 5, 20, 10, 0)
USER = "desk.officer"
PASSWORD = "a long desk password"
XSS = "<script>alert(1)</script>"
WPS = {"code": "WPS-2021", "title": "Women and peace and security", "date": "2021-10-21"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _bound_socket() -> socket.socket:
    """A listening socket on a free port, retrying when another process takes it first."""
    for _ in range(20):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((LOOPBACK, free_port()))
        except OSError as error:
            sock.close()
            if error.errno != errno.EADDRINUSE:
                raise
            continue
        return sock
    raise RuntimeError("no free port for the dashboard")


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yields its base URL."""
    sock = _bound_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", ws="none", http="h11", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _submission(mission: str, sender: str, **options: Any) -> bytes:
    return samples.submission_email(mission_name=mission, sender=sender, to=SUBMISSIONS, **options)


def fill(intake: Intake) -> None:
    """Two open meetings and five messages through the real pipeline: accepted, rejected
    (late), held (no meeting named), and one whose subject and file name carry a script."""
    intake.reconfigure(meetings=[dict(PKO_SAFETY), dict(WPS)])
    intake.deliver(_submission("France", "france@un.int"), at=ON_TIME)
    intake.deliver(_submission("Ghana", "ghana@un.int"), at=ny(2021, 5, 25, 9, 0))
    intake.deliver(
        _submission("Japan", "japan@un.int", subject="Written statement of Japan"), at=ON_TIME
    )
    intake.deliver(
        _submission(
            "Brazil",
            "brazil@un.int",
            subject=f"PKO-SAFETY: statement {XSS}",
            statement_filename=f"{XSS}.docx",
            extra_attachments=[
                Attachment("page.html", f"<html>{XSS}</html>".encode(), "text/html")
            ],
        ),
        at=ON_TIME,
    )
    intake.run()


@dataclass
class Dashboard:
    url: str
    intake: Intake
    engine: Engine

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=60)

    @contextmanager
    def login(self, user: str = USER, password: str = PASSWORD) -> Iterator[httpx.Client]:
        with self.client() as client:
            response = self.sign_in(client, user, password)
            assert response.status_code == 303, response.text
            yield client

    def sign_in(self, client: httpx.Client, user: str, password: str) -> httpx.Response:
        token = token_of(client.get("/login"))
        return client.post(
            "/login", data={"csrf_token": token, "username": user, "password": password}
        )

    def reference_of(self, sender: str) -> str:
        [row] = [row for row in self.intake.queue() if row.sender == sender]
        return row.reference

    def rows(self, model: type[Any]) -> list[Any]:
        with Session(self.engine) as session:
            return list(session.exec(select(model)))


def token_of(response: httpx.Response) -> str:
    found = CSRF.search(response.text)
    assert found, response.text
    return found.group(1)


def intake_app() -> Any:
    """The `intake` command itself, as a Typer app for `CliRunner`; point it at a
    configuration with INTAKE_CONFIG (`monkeypatch.setenv`)."""
    from pipeline.cli.app import app

    return app
