"""The dashboard application: the route table and how the Starlette app is put together.

Server-rendered pages (Starlette + Jinja2 with autoescaping), no front-end build: a page
(`pages`) is a view from `pipeline.desk.views` put into a template, and every button
posts a form (`actions`) that calls an action from `pipeline.desk.actions` as the
signed-in user, then redirects with a flash message saying what happened. The CLI does
the same things with the same functions, so the two can never disagree.

Every response gets the security headers (`headers`); the session cookie is signed
(`cookie`); the routes that need a user run Starlette's authentication middleware
(`access.SIGNED_IN`), and their handlers say what they need (`guards.page`,
`guards.action`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pipeline.replies.templates import load_templates
from pipeline.settings.models import Settings
from pipeline.storage.blobs import BlobStore
from pipeline.storage.db import DatabaseError, make_engine
from pipeline.storage.sync import SyncError
from pipeline.web import actions, directory_actions, directory_pages, files, pages
from pipeline.web.access import SIGNED_IN
from pipeline.web.context import WebContext
from pipeline.web.cookie import cookie_middleware
from pipeline.web.errors import database_error, http_error
from pipeline.web.headers import SecurityHeadersMiddleware
from pipeline.web.health import healthz, metrics
from pipeline.web.login import login, logout

STATIC_DIR = Path(__file__).resolve().parent / "static"


def routes() -> list[BaseRoute]:
    """Every route: those with `SIGNED_IN` know who is asking (and their handlers require
    it); `/healthz`, `/metrics` and the static files are for anyone."""
    return [
        Route("/login", login, methods=["GET", "POST"], middleware=SIGNED_IN),
        Route("/logout", logout, methods=["POST"], middleware=SIGNED_IN),
        Route("/", pages.overview, methods=["GET"], middleware=SIGNED_IN),
        Route("/submissions", pages.submissions, methods=["GET"], middleware=SIGNED_IN),
        Route("/submissions/{reference}", pages.submission, methods=["GET"], middleware=SIGNED_IN),
        Route(
            "/submissions/{reference}/decide",
            actions.decide,
            methods=["POST"],
            middleware=SIGNED_IN,
        ),
        Route(
            "/documents/{id:int}/download", pages.download, methods=["GET"], middleware=SIGNED_IN
        ),
        Route(
            "/documents/{id:int}/inline", files.letter_inline, methods=["GET"], middleware=SIGNED_IN
        ),
        Route("/ignored", files.ignored, methods=["GET"], middleware=SIGNED_IN),
        Route("/messages/{id:int}/raw", files.raw_message, methods=["GET"], middleware=SIGNED_IN),
        Route("/missing", pages.missing, methods=["GET"], middleware=SIGNED_IN),
        Route(
            "/meetings", directory_actions.add_meeting_form, methods=["POST"], middleware=SIGNED_IN
        ),
        Route("/meetings/new", directory_pages.new_meeting, methods=["GET"], middleware=SIGNED_IN),
        Route("/meetings/{code}", directory_pages.meeting, methods=["GET"], middleware=SIGNED_IN),
        Route(
            "/meetings/{code}/edit",
            directory_actions.edit_meeting_form,
            methods=["POST"],
            middleware=SIGNED_IN,
        ),
        Route(
            "/meetings/{code}/speakers",
            directory_actions.upload_speakers,
            methods=["POST"],
            middleware=SIGNED_IN,
        ),
        Route("/missions", directory_pages.missions, methods=["GET"], middleware=SIGNED_IN),
        Route("/missions/{code}", directory_pages.mission, methods=["GET"], middleware=SIGNED_IN),
        Route(
            "/missions/{code}/senders",
            directory_actions.add_sender_form,
            methods=["POST"],
            middleware=SIGNED_IN,
        ),
        Route(
            "/missions/{code}/senders/remove",
            directory_actions.remove_sender_form,
            methods=["POST"],
            middleware=SIGNED_IN,
        ),
        Route(
            "/meetings/{code}/compilation.docx",
            pages.compilation,
            methods=["GET"],
            middleware=SIGNED_IN,
        ),
        Route("/replies", pages.replies, methods=["GET"], middleware=SIGNED_IN),
        Route("/replies/{id:int}", pages.reply, methods=["GET"], middleware=SIGNED_IN),
        Route("/replies/{id:int}/resend", actions.resend, methods=["POST"], middleware=SIGNED_IN),
        Route("/replies/{id:int}/cancel", actions.cancel, methods=["POST"], middleware=SIGNED_IN),
        Route("/audit", pages.audit, methods=["GET"], middleware=SIGNED_IN),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]


def create_app(settings: Settings, *, engine: Engine | None = None) -> Starlette:
    """The dashboard for this configuration. Raises TemplateError when the reply templates
    are broken (desk decisions send replies) and ValueError for an unusable secret file;
    the database is not touched until the first request."""
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeadersMiddleware), cookie_middleware(settings)],
        exception_handlers={
            HTTPException: http_error,
            DatabaseError: database_error,
            SyncError: database_error,
            SQLAlchemyError: database_error,
        },
    )
    app.state.intake = WebContext(
        settings=settings,
        engine=engine,
        blobs=BlobStore(settings.storage_path),
        replies=load_templates(settings),
    )
    return app
