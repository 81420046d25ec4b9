"""The desk's actions (POST): decide on a submission, resend or cancel a reply.

Each is a form posted with the session's CSRF token by a signed-in user
(`guards.action`) and calls the same function of `pipeline.desk.actions` as the CLI, as
that user; then it redirects (post/redirect/get) with flash messages saying what
happened, including whether the reply went out.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.desk.actions import ActionError, cancel_reply, decide_submission, resend_reply
from pipeline.desk.views import NotFound
from pipeline.replies.outbox import SendReport, send_pending
from pipeline.replies.templates import TemplateError
from pipeline.storage import models as m
from pipeline.web import forms
from pipeline.web.context import WebContext, context_of
from pipeline.web.guards import action
from pipeline.web.rendering import error_page, flash

log = logging.getLogger(__name__)

DECISIONS = {
    "accept": m.SubmissionStatus.ACCEPTED,
    "reject": m.SubmissionStatus.REJECTED,
    "hold": m.SubmissionStatus.HELD,
}


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


@action
async def decide(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    reference = str(request.path_params["reference"])
    back = RedirectResponse(f"/submissions/{quote(reference, safe='')}", status_code=303)
    status = DECISIONS.get(forms.text(form, "action"))
    if status is None:
        return error_page(request, 400, "Unknown action", "Choose Accept, Reject or Hold.")
    reason = forms.text(form, "reason")
    notify = forms.text(form, "notify") == "yes"
    meeting_code = forms.text(form, "meeting").strip() or None
    mission_code = forms.text(form, "mission").strip() or None

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
        flash(request, "error", f"Nothing was changed: {error}")
        return back
    log.info("%s decided %s: %s", user, reference, status.value)
    flash(request, kind, text)
    for message_kind, message in messages:
        flash(request, message_kind, message)
    return back


def _no_reply(request: Request) -> Response:
    return error_page(request, 404, "Not found", f"There is no reply {request.path_params['id']}.")


@action
async def resend(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    reply_id = forms.row_id(request)
    if reply_id is None:
        return _no_reply(request)
    back = RedirectResponse(forms.safe_next(forms.text(form, "next"), "/replies"), status_code=303)

    def work() -> tuple[str, str]:
        resend_reply(ctx.ready(), reply_id=reply_id, actor=user)
        return _send(ctx, reply_id)

    try:
        kind, text = await run_in_threadpool(work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    except ActionError as error:
        flash(request, "error", str(error))
        return back
    log.info("%s resent reply %s", user, reply_id)
    flash(request, kind, f"Reply {reply_id} queued again. {text}")
    return back


@action
async def cancel(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    reply_id = forms.row_id(request)
    if reply_id is None:
        return _no_reply(request)
    back = RedirectResponse(forms.safe_next(forms.text(form, "next"), "/replies"), status_code=303)
    reason = forms.text(form, "reason")

    def work() -> None:
        cancel_reply(ctx.ready(), reply_id=reply_id, reason=reason, actor=user)

    try:
        await run_in_threadpool(work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    except ActionError as error:
        flash(request, "error", f"Nothing was changed: {error}")
        return back
    log.info("%s cancelled reply %s", user, reply_id)
    flash(request, "ok", f"Reply {reply_id} cancelled: it will not be sent.")
    return back
