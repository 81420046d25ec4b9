"""The dashboard: the service desk's queue in a browser, on top of `pipeline.desk`.

Server-rendered pages (Starlette + Jinja2 with autoescaping), no front-end build: a page
is a view from `pipeline.desk.views` put into a template, and every button posts a form
that calls an action from `pipeline.desk.actions` as the logged-in user, then redirects
(post/redirect/get) with a flash message saying what happened. The CLI does the same
things with the same functions, so the two can never disagree.

The database work is synchronous (SQLAlchemy), so each handler runs it in Starlette's
thread pool and keeps the event loop free for other requests.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from pipeline.compilation import (
    CompilationError,
    CompilationTemplates,
    compile_meeting,
    texts_roots,
)
from pipeline.desk.actions import ActionError, cancel_reply, decide_submission, resend_reply
from pipeline.desk.views import (
    DEFAULT_ZONE,
    NotFound,
    audit_log,
    countdown,
    list_meetings,
    list_missions,
    list_replies,
    missing_missions,
    queue_overview,
    submission_detail,
)
from pipeline.replies.outbox import SendReport, send_pending
from pipeline.replies.templates import ReplyTemplates, TemplateError, load_templates
from pipeline.settings.models import MeetingStatus, Settings
from pipeline.storage import models as m
from pipeline.storage.blobs import BlobStore, safe_filename
from pipeline.storage.db import DatabaseError, make_engine
from pipeline.storage.prepare import prepare
from pipeline.storage.queries import list_submissions
from pipeline.storage.sync import SyncError
from pipeline.web import auth
from pipeline.web.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from pipeline.web.metrics import render_metrics

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "intake_session"
SESSION_FLASH = "flash"
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is an attack
# Ids are PostgreSQL `integer`s: a larger number in a URL names no row (and would make the
# database, or SQLite's driver, fail instead of answering "not found").
MAX_ROW_ID = 2**31 - 1

DECISIONS = {
    "accept": m.SubmissionStatus.ACCEPTED,
    "reject": m.SubmissionStatus.REJECTED,
    "hold": m.SubmissionStatus.HELD,
}

T = TypeVar("T")


# -- what every request shares --------------------------------------------------------------------


@dataclass
class WebContext:
    """The application's state: configuration, database, file store, reply templates.

    The database is prepared (tables created, configuration loaded) on the first request
    that needs it rather than at start-up, so that the dashboard starts, and `/healthz`
    can say what is wrong, while the database is down.
    """

    settings: Settings
    engine: Engine
    blobs: BlobStore
    replies: ReplyTemplates
    password_checks: auth.PasswordChecks = field(default_factory=auth.PasswordChecks)
    _prepared: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ready(self) -> Engine:
        if not self._prepared:
            with self._lock:
                if not self._prepared:
                    prepare(self.settings, self.engine)
                    self._prepared = True
        return self.engine


def _ctx(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.intake
    return ctx


async def _db(request: Request, work: Callable[[Session], T]) -> T:
    """Run `work` with a read session, in the thread pool."""
    ctx = _ctx(request)

    def run() -> T:
        with Session(ctx.ready()) as session:
            return work(session)

    return await run_in_threadpool(run)


# -- rendering ------------------------------------------------------------------------------------


def _local(value: datetime) -> datetime:
    """Times the views already put in a meeting's zone stay there; bare UTC times (replies,
    the audit log) are shown in New York time, where the desk works."""
    if value.tzinfo is None or (value.utcoffset() == timedelta(0) and value.tzname() == "UTC"):
        return value.replace(tzinfo=value.tzinfo or UTC).astimezone(DEFAULT_ZONE)
    return value


def format_when(value: datetime | None, seconds: bool = False) -> str:
    """'20 May 2021, 10:00 EDT'; with seconds where events follow each other closely."""
    if value is None:
        return ""
    local = _local(value)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return f"{local.day} {local.strftime(f'%b %Y, {clock} %Z')}"


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _plain(value: Any) -> str:
    """A value from an audit detail or reason parameters, as short text (escaped later)."""
    if value is None or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        # Everything from an email (subjects, names, file names, reasons) is escaped.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_when
    env.filters["size"] = format_size
    env.filters["countdown"] = countdown
    env.filters["plain"] = _plain
    env.globals["qs"] = lambda **params: urlencode({k: v for k, v in params.items() if v})
    return env


_templates = Jinja2Templates(env=_environment())


def _flash(request: Request, kind: str, text: str) -> None:
    """A message for the next page (kinds: ok, warn, error)."""
    messages = list(request.session.get(SESSION_FLASH, []))
    messages.append([kind, text])
    request.session[SESSION_FLASH] = messages


def render(
    request: Request, name: str, context: Mapping[str, Any] | None = None, status_code: int = 200
) -> Response:
    values: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "csrf_field": auth.CSRF_FIELD,
        "csrf_token": auth.csrf_token(request.session),
        "flashes": request.session.pop(SESSION_FLASH, []),
        "path": request.url.path,
    }
    values.update(context or {})
    return _templates.TemplateResponse(request, name, values, status_code=status_code)


def error_page(request: Request, status_code: int, title: str, text: str) -> Response:
    return render(request, "error.html", {"title": title, "text": text}, status_code=status_code)


# -- who is asking --------------------------------------------------------------------------------


async def _logged_in(request: Request) -> str | None:
    """The user of this request's session, asked of the server every time: a session
    signed out, expired, or of a user removed or given a new password is refused."""
    ctx = _ctx(request)
    had_user = bool(request.session.get(auth.SESSION_USER))
    user = auth.session_user(request.session, ctx.settings.web.session_minutes)
    if user is not None:
        name = user
        token = request.session.get(auth.SESSION_ID)

        def valid() -> bool:
            if not isinstance(token, str) or not token:
                return False
            return auth.session_valid(ctx.settings, ctx.ready(), token, name)

        if not await run_in_threadpool(valid):
            request.session.clear()
            user = None
    if user is None and had_user:
        _flash(request, "warn", "Your session has expired; please sign in again.")
    request.state.user = user
    return user


def _to_login(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET":
        target = "/"  # a form's target cannot be opened after the login
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _forbidden(request: Request) -> Response:
    return error_page(
        request,
        403,
        "Form expired",
        "This form was not accepted (its security token is missing or out of date). "
        "Go back, reload the page and try again.",
    )


Page = Callable[[Request, str], Awaitable[Response]]
Action = Callable[[Request, str, FormData], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def page(handler: Page) -> Endpoint:
    """A page for logged-in users; anyone else is sent to the login form."""

    async def endpoint(request: Request) -> Response:
        user = await _logged_in(request)
        if user is None:
            return _to_login(request)
        return await handler(request, user)

    endpoint.__name__ = handler.__name__
    return endpoint


def action(handler: Action) -> Endpoint:
    """A form post by a logged-in user, refused (403) unless it carries the session's CSRF
    token. Every POST route of the dashboard is built with this (or is the login)."""

    async def endpoint(request: Request) -> Response:
        user = await _logged_in(request)
        if user is None:
            return _to_login(request)
        form = await request.form(max_files=0, max_fields=50)
        if not auth.csrf_valid(request.session, form.get(auth.CSRF_FIELD)):
            log.warning("refused a form without a valid CSRF token: %s %s", user, request.url.path)
            return _forbidden(request)
        return await handler(request, user, form)

    endpoint.__name__ = handler.__name__
    return endpoint


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _row_id(request: Request) -> int | None:
    """The `{id:int}` of the URL, or None when no row can have it."""
    value: int = request.path_params["id"]
    return value if 0 < value <= MAX_ROW_ID else None


def _address(request: Request) -> str:
    # Behind the reverse proxy uvicorn puts the browser's address here (X-Forwarded-For
    # from 127.0.0.1, the proxy: docs/deployment.md).
    return request.client.host if request.client else "?"


# -- login ----------------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    ctx = _ctx(request)
    if request.method == "GET":
        target = auth.safe_next(request.query_params.get("next"))
        if await _logged_in(request):
            return RedirectResponse(target, status_code=303)
        return render(request, "login.html", {"next": target, "username": "", "error": None})
    form = await request.form(max_files=0, max_fields=10)
    if not auth.csrf_valid(request.session, form.get(auth.CSRF_FIELD)):
        return _forbidden(request)
    name = _text(form, "username").strip()
    password = _text(form, "password")
    target = auth.safe_next(_text(form, "next"))
    address = _address(request)

    def refused(status_code: int, error: str) -> Response:
        return render(
            request,
            "login.html",
            {"next": target, "username": name, "error": error},
            status_code=status_code,
        )

    wrong = "Wrong user name or password."
    if not 0 < len(password) <= MAX_PASSWORD_LENGTH:
        await asyncio.sleep(auth.FAILED_LOGIN_DELAY)
        return refused(401, wrong)
    started = await run_in_threadpool(
        lambda: auth.begin_login(ctx.settings, ctx.ready(), name, address)
    )
    if isinstance(started, auth.Lock):
        log.warning(
            "refused a dashboard login for user %r from %s: too many failures (%s)",
            name,
            address,
            started.by,
        )
        return _locked(refused, started)
    attempt = started
    ok = await ctx.password_checks.run(lambda: auth.check_password(attempt.password_hash, password))
    token = None
    if ok:
        token = await run_in_threadpool(
            lambda: auth.login_succeeded(ctx.settings, ctx.ready(), attempt)
        )
    if token is None:
        lock = await run_in_threadpool(
            lambda: auth.login_failed(ctx.settings, ctx.ready(), attempt)
        )
        log.warning("failed dashboard login for user %r from %s", name, address)
        if lock is not None:
            log.warning("dashboard logins locked (%s) after the failure above", lock.by)
        await asyncio.sleep(auth.FAILED_LOGIN_DELAY)
        return refused(401, wrong)
    auth.start_session(request.session, name, token)
    log.info("dashboard login: %s from %s", name, address)
    return RedirectResponse(target, status_code=303)


def _locked(refused: Callable[[int, str], Response], lock: auth.Lock) -> Response:
    """The same answer whether the name exists or not, and whatever was locked."""
    seconds = lock.seconds_left()
    minutes = max(1, -(-seconds // 60))
    response = refused(
        429,
        f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes > 1 else ''}.",
    )
    response.headers["Retry-After"] = str(seconds)
    return response


async def logout(request: Request, user: str, form: FormData) -> Response:  # noqa: ARG001
    ctx = _ctx(request)
    token = request.session.get(auth.SESSION_ID)
    address = _address(request)
    await run_in_threadpool(
        lambda: auth.sign_out(ctx.ready(), token if isinstance(token, str) else None, user, address)
    )
    request.session.clear()
    log.info("dashboard logout: %s", user)
    _flash(request, "ok", "You are signed out.")
    return RedirectResponse("/login", status_code=303)


# -- pages ----------------------------------------------------------------------------------------


async def overview(request: Request, user: str) -> Response:  # noqa: ARG001
    data = await _db(request, lambda s: queue_overview(s, now=m.utcnow()))
    return render(request, "overview.html", {"overview": data})


def _queue_data(
    session: Session, meeting: str | None, status: m.SubmissionStatus | None, mission: str | None
) -> dict[str, Any]:
    everything = list_submissions(session)
    rows = list_submissions(session, meeting=meeting, status=status)
    if mission:
        rows = [row for row in rows if row.mission == mission]
    missions = sorted(
        {(row.mission, row.mission_name or row.mission) for row in everything if row.mission},
        key=lambda pair: pair[1] or "",
    )
    return {
        "rows": list(reversed(rows)),  # newest first
        "total": len(everything),
        "meetings": list_meetings(session),
        "missions": missions,
    }


async def submissions(request: Request, user: str) -> Response:  # noqa: ARG001
    params = request.query_params
    meeting = params.get("meeting", "").strip().upper() or None
    mission = params.get("mission", "").strip().upper() or None
    status_text = params.get("status", "").strip().lower()
    statuses = {s.value: s for s in m.SubmissionStatus}
    if status_text and status_text not in statuses:
        return error_page(request, 400, "Unknown status", f"There is no status {status_text!r}.")
    status = statuses.get(status_text)
    data = await _db(request, lambda s: _queue_data(s, meeting, status, mission))
    data["filters"] = {"meeting": meeting or "", "status": status_text, "mission": mission or ""}
    data["statuses"] = list(statuses)
    return render(request, "submissions.html", data)


def _submission_data(session: Session, reference: str, blobs: BlobStore) -> dict[str, Any]:
    detail = submission_detail(session, reference, blobs)
    open_meetings = [row for row in list_meetings(session) if row.status == MeetingStatus.OPEN]
    missions = list_missions(session) if detail.mission is None else []
    return {"s": detail, "open_meetings": open_meetings, "missions": missions}


async def submission(request: Request, user: str) -> Response:  # noqa: ARG001
    reference = request.path_params["reference"]
    blobs = _ctx(request).blobs
    try:
        data = await _db(request, lambda s: _submission_data(s, reference, blobs))
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    return render(request, "submission.html", data)


async def missing(request: Request, user: str) -> Response:  # noqa: ARG001
    code = request.query_params.get("meeting", "").strip().upper()

    def work(session: Session) -> dict[str, Any]:
        meetings = list_meetings(session)
        chosen = code
        if not chosen:
            open_codes = [row.code for row in meetings if row.status == MeetingStatus.OPEN]
            chosen = open_codes[0] if len(open_codes) == 1 else ""
        rows = missing_missions(session, chosen) if chosen else None
        return {"meetings": meetings, "meeting": chosen, "rows": rows}

    try:
        data = await _db(request, work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    return render(request, "missing.html", data)


async def replies(request: Request, user: str) -> Response:  # noqa: ARG001
    status_text = request.query_params.get("status", "").strip().lower()
    statuses = {s.value: s for s in m.ReplyStatus}
    if status_text and status_text not in statuses:
        return error_page(request, 400, "Unknown status", f"There is no status {status_text!r}.")
    status = statuses.get(status_text)
    rows = await _db(request, lambda s: list_replies(s, status=status))
    return render(
        request,
        "replies.html",
        {"rows": list(reversed(rows)), "status": status_text, "statuses": list(statuses)},
    )


async def audit(request: Request, user: str) -> Response:  # noqa: ARG001
    rows = await _db(request, lambda s: audit_log(s, limit=300))
    return render(request, "audit.html", {"rows": rows})


async def download(request: Request, user: str) -> Response:
    """The stored original, always as a download: a file from a delegation is never shown
    by the browser (it could be HTML, or anything pretending to be)."""
    document_id = _row_id(request)
    ctx = _ctx(request)
    if document_id is None:
        number = request.path_params["id"]
        return error_page(request, 404, "Not found", f"There is no document {number}.")
    document = await _db(request, lambda s: s.get(m.Document, document_id))
    if document is None:
        return error_page(request, 404, "Not found", f"There is no document {document_id}.")
    path = ctx.blobs.path_for(document.sha256)
    if not path.is_file():
        log.error("document %s: the stored file %s is missing", document_id, path)
        return error_page(request, 404, "File missing", "The stored file is missing.")
    ascii_name = safe_filename(document.safe_name or document.filename).replace('"', "_")
    encoded = quote(document.filename, safe="")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
    log.info("%s downloaded document %s (%s)", user, document_id, ascii_name)
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


async def compilation(request: Request, user: str) -> Response:
    """The meeting's compilation, built now from its accepted statements: a desk override
    made a minute ago is in it."""
    code: str = request.path_params["code"].upper()
    ctx = _ctx(request)

    def build() -> bytes:
        templates = CompilationTemplates.load(texts_roots(ctx.settings))
        with tempfile.TemporaryDirectory(prefix="intake-compilation-") as folder:
            out = Path(folder) / f"{code}.docx"
            with Session(ctx.ready()) as session:
                compile_meeting(session, ctx.blobs, code, templates=templates, out=out)
            return out.read_bytes()

    try:
        content = await run_in_threadpool(build)
    except CompilationError as error:
        _flash(request, "error", f"No compilation for {code}: {error}.")
        return RedirectResponse("/", status_code=303)
    log.info("%s downloaded the compilation of %s", user, code)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe_filename(code)}-compilation.docx"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- actions --------------------------------------------------------------------------------------


def _reply_outcome(ctx: WebContext, reply_id: int, report: SendReport) -> tuple[str, str]:
    """What became of one reply after an outbox flush, as (flash kind, sentence)."""
    with Session(ctx.engine) as session:
        reply = session.get(m.Reply, reply_id)
    if reply is None:
        return "error", "The reply has disappeared from the outbox."
    if reply.status is m.ReplyStatus.SENT:
        return "ok", f"The reply was sent to {reply.to_address}."
    if reply.status is m.ReplyStatus.FAILED:
        return "error", (
            f"The mail server refused the reply to {reply.to_address}: {reply.last_error}. "
            "Check the address, then resend it from the replies."
        )
    problem = report.error or reply.last_error or "the outbox is busy"
    return "warn", (
        f"The reply to {reply.to_address} could not be sent now ({problem}); it stays queued "
        "and goes out with the next outbox run."
    )


def _send(ctx: WebContext, reply_id: int) -> tuple[str, str]:
    report = send_pending(ctx.engine, ctx.settings)
    return _reply_outcome(ctx, reply_id, report)


async def decide(request: Request, user: str, form: FormData) -> Response:
    ctx = _ctx(request)
    reference = str(request.path_params["reference"])
    back = RedirectResponse(f"/submissions/{quote(reference, safe='')}", status_code=303)
    status = DECISIONS.get(_text(form, "action"))
    if status is None:
        return error_page(request, 400, "Unknown action", "Choose Accept, Reject or Hold.")
    reason = _text(form, "reason")
    notify = _text(form, "notify") == "yes"
    meeting_code = _text(form, "meeting").strip() or None
    mission_code = _text(form, "mission").strip() or None

    def work() -> tuple[str, str, list[tuple[str, str]]]:
        result = decide_submission(
            ctx.ready(),
            ctx.settings,
            ctx.replies,
            reference=reference,
            status=status,
            reason=reason,
            actor=user,
            notify=notify,
            meeting_code=meeting_code,
            mission_code=mission_code,
        )
        text = f"{result.reference} is now {result.status} (was {result.previous})."
        if result.superseded:
            text += f" {result.superseded} is superseded by it."
        if result.cancelled:
            count = len(result.cancelled)
            text += (
                f" {count} earlier repl{'ies' if count > 1 else 'y'} that had not gone out"
                " will not be sent."
            )
        messages = []
        if result.reply_id is not None:
            messages.append(_send(ctx, result.reply_id))
        elif notify:
            messages.append(("warn", "No reply was queued: there is no address to answer."))
        else:
            text += " The sender was not notified."
        return "ok", text, messages

    try:
        kind, text, messages = await run_in_threadpool(work)
    except (ActionError, NotFound, TemplateError) as error:
        _flash(request, "error", f"Nothing was changed: {error}")
        return back
    log.info("%s decided %s: %s", user, reference, status.value)
    _flash(request, kind, text)
    for message_kind, message in messages:
        _flash(request, message_kind, message)
    return back


def _no_reply(request: Request) -> Response:
    return error_page(request, 404, "Not found", f"There is no reply {request.path_params['id']}.")


async def resend(request: Request, user: str, form: FormData) -> Response:
    ctx = _ctx(request)
    reply_id = _row_id(request)
    if reply_id is None:
        return _no_reply(request)
    back = RedirectResponse(auth.safe_next(_text(form, "next"), "/replies"), status_code=303)

    def work() -> tuple[str, str]:
        resend_reply(ctx.ready(), reply_id=reply_id, actor=user)
        return _send(ctx, reply_id)

    try:
        kind, text = await run_in_threadpool(work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    except ActionError as error:
        _flash(request, "error", str(error))
        return back
    log.info("%s resent reply %s", user, reply_id)
    _flash(request, kind, f"Reply {reply_id} queued again. {text}")
    return back


async def cancel(request: Request, user: str, form: FormData) -> Response:
    ctx = _ctx(request)
    reply_id = _row_id(request)
    if reply_id is None:
        return _no_reply(request)
    back = RedirectResponse(auth.safe_next(_text(form, "next"), "/replies"), status_code=303)
    reason = _text(form, "reason")

    def work() -> None:
        cancel_reply(ctx.ready(), reply_id=reply_id, reason=reason, actor=user)

    try:
        await run_in_threadpool(work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    except ActionError as error:
        _flash(request, "error", f"Nothing was changed: {error}")
        return back
    log.info("%s cancelled reply %s", user, reply_id)
    _flash(request, "ok", f"Reply {reply_id} cancelled: it will not be sent.")
    return back


# -- for machines ---------------------------------------------------------------------------------


def _health(engine: Engine) -> tuple[bool, str, str | None]:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("healthz: the database cannot be used: %s", str(error).splitlines()[0])
        return False, "unavailable", None
    try:
        with Session(engine) as session:
            run = session.exec(
                select(m.WorkerRun)
                .where(col(m.WorkerRun.ok).is_(True), col(m.WorkerRun.finished_at).is_not(None))
                .order_by(col(m.WorkerRun.finished_at).desc())
                .limit(1)
            ).first()
    except SQLAlchemyError:
        run = None  # reachable, but no tables yet: no run has succeeded
    last = run.finished_at.isoformat() if run is not None and run.finished_at else None
    return True, "ok", last


async def healthz(request: Request) -> Response:
    """For load balancers and monitoring: the database answers; when the last good run was."""
    ok, database, last = await run_in_threadpool(_health, _ctx(request).engine)
    body = {"status": "ok" if ok else "fail", "database": database, "last_successful_run": last}
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    engine = _ctx(request).engine

    def work() -> str:
        with Session(engine) as session:
            return render_metrics(session)

    try:
        text = await run_in_threadpool(work)
    except SQLAlchemyError as error:
        log.warning("metrics: the database cannot be used: %s", str(error).splitlines()[0])
        return Response("# the database cannot be read\n", status_code=503, media_type="text/plain")
    return Response(text, media_type=METRICS_CONTENT_TYPE)


# -- errors ---------------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Not allowed"}
    response = error_page(
        request, exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail)
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _database_error(request: Request, exc: Exception) -> Response:
    log.error("dashboard: the database cannot be used: %s", str(exc).splitlines()[0])
    return error_page(
        request,
        503,
        "Database unavailable",
        "The database cannot be reached right now; the error was logged. Try again in a "
        "minute, or tell the operator.",
    )


# -- the application ------------------------------------------------------------------------------


def routes() -> list[BaseRoute]:
    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", action(logout), methods=["POST"]),
        Route("/", page(overview), methods=["GET"]),
        Route("/submissions", page(submissions), methods=["GET"]),
        Route("/submissions/{reference}", page(submission), methods=["GET"]),
        Route("/submissions/{reference}/decide", action(decide), methods=["POST"]),
        Route("/documents/{id:int}/download", page(download), methods=["GET"]),
        Route("/missing", page(missing), methods=["GET"]),
        Route("/meetings/{code}/compilation.docx", page(compilation), methods=["GET"]),
        Route("/replies", page(replies), methods=["GET"]),
        Route("/replies/{id:int}/resend", action(resend), methods=["POST"]),
        Route("/replies/{id:int}/cancel", action(cancel), methods=["POST"]),
        Route("/audit", page(audit), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]


def create_app(settings: Settings, *, engine: Engine | None = None) -> Starlette:
    """The dashboard for this configuration. Raises TemplateError when the reply templates
    are broken (desk decisions send replies) and ValueError for an unusable secret file;
    the database is not touched until the first request."""
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    web = settings.web
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(auth.SecurityHeadersMiddleware),
            Middleware(
                SessionMiddleware,
                secret_key=auth.load_secret_key(settings),
                session_cookie=SESSION_COOKIE,
                max_age=web.session_minutes * 60,
                same_site="lax",
                https_only=web.secure_cookies,
            ),
        ],
        exception_handlers={
            HTTPException: _http_error,
            DatabaseError: _database_error,
            SyncError: _database_error,
            SQLAlchemyError: _database_error,
        },
    )
    app.state.intake = WebContext(
        settings=settings,
        engine=engine,
        blobs=BlobStore(settings.storage_path),
        replies=load_templates(settings),
    )
    return app
