"""The dashboard's directory actions (POST): add or edit a meeting, upload its list of
speakers, add or remove a mission's sender address.

Each calls the same function of `pipeline.desk` as the command line, as the signed-in
user (recorded in the audit log). A refused form is shown again with what was typed and
one sentence saying what to fix (status 400); a done one redirects with a flash message,
and a warning when the meeting's deadline is already past.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.desk.actions import ActionError, add_meeting, add_sender, remove_sender
from pipeline.desk.meetings import MeetingEdit, check_editable, deadline_warning, edit_meeting
from pipeline.desk.speakers import (
    MAX_FILE_BYTES,
    SpeakersImport,
    UnknownSpeakers,
    import_speakers,
)
from pipeline.desk.views import NotFound, find_meeting
from pipeline.storage import models as m
from pipeline.web import forms
from pipeline.web.context import context_of
from pipeline.web.directory_pages import (
    configured_codes,
    meeting_page,
    mission_page,
    new_meeting_page,
)
from pipeline.web.guards import action, upload
from pipeline.web.meeting_form import MeetingForm, changes_from, shown, values_of
from pipeline.web.rendering import error_page, flash

__all__ = [
    "add_meeting_form",
    "add_sender_form",
    "edit_meeting_form",
    "remove_sender_form",
    "upload_speakers",
]

log = logging.getLogger(__name__)


def _to_meeting(code: str) -> RedirectResponse:
    return RedirectResponse(f"/meetings/{quote(code, safe='')}", status_code=303)


def _to_mission(code: str) -> RedirectResponse:
    return RedirectResponse(f"/missions/{quote(code, safe='')}", status_code=303)


def _warn_past(request: Request, meeting: m.Meeting) -> None:
    warning = deadline_warning(meeting)
    if warning:
        flash(request, "warn", f"{warning[0].upper()}{warning[1:]}.")


@action
async def add_meeting_form(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    values = values_of(form)

    def work() -> m.Meeting:
        return add_meeting(ctx.ready(), actor=user, **MeetingForm.read(values).arguments())

    try:
        added = await run_in_threadpool(work)
    except ActionError as error:
        return new_meeting_page(request, values, error=str(error), status_code=400)
    log.info("%s added meeting %s", user, added.code)
    flash(request, "ok", f"Meeting {added.code} added.")
    _warn_past(request, added)
    return _to_meeting(added.code)


@action
async def edit_meeting_form(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    code = str(request.path_params["code"])
    values = values_of(form)
    configured = configured_codes(request)

    def work() -> MeetingEdit | None:
        check_editable(code, configured)
        with Session(ctx.ready()) as session:
            before = shown(find_meeting(session, code))  # what the form showed
        changes = changes_from({**values, "code": before["code"]}, before)
        if changes.empty():
            return None
        return edit_meeting(
            ctx.engine, code=code, changes=changes, actor=user, configured=configured
        )

    try:
        edit = await run_in_threadpool(work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    except ActionError as error:
        extra = {"values": {**values, "code": code.upper()}, "error": str(error)}
        return await meeting_page(request, code, status_code=400, extra=extra)
    if edit is None or not edit.changed:
        flash(request, "ok", "Nothing was changed: the form showed the meeting as it is.")
        return _to_meeting(code.upper())
    log.info("%s edited meeting %s: %s", user, edit.meeting.code, ", ".join(edit.changed))
    flash(request, "ok", f"Meeting {edit.meeting.code} changed: {', '.join(edit.changed)}.")
    _warn_past(request, edit.meeting)
    return _to_meeting(edit.meeting.code)


@upload
async def upload_speakers(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    code = str(request.path_params["code"])
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        extra = {"upload_error": "Choose the file of the list of speakers (CSV or .xlsx)."}
        return await meeting_page(request, code, status_code=400, extra=extra)
    content = await file.read(MAX_FILE_BYTES + 1)
    filename = file.filename

    def work() -> SpeakersImport:
        return import_speakers(
            ctx.ready(), meeting_code=code, filename=filename, content=content, actor=user
        )

    try:
        result = await run_in_threadpool(work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    except UnknownSpeakers as error:
        refused: dict[str, Any] = {"upload_error": f"{str(error)[0].upper()}{str(error)[1:]}."}
        refused["unknown"] = error.rows
        return await meeting_page(request, code, status_code=400, extra=refused)
    except ActionError as error:
        extra = {"upload_error": f"Nothing was imported: {error}."}
        return await meeting_page(request, code, status_code=400, extra=extra)
    log.info("%s imported %s speakers for %s", user, result.count, result.meeting)
    replaced = f" (it replaces a list of {result.replaced})" if result.replaced else ""
    flash(request, "ok", f"{result.count} speakers imported for {result.meeting}{replaced}.")
    if result.repeated:
        rows = ", ".join(f"row {number} ({code})" for number, code in result.repeated)
        flash(request, "warn", f"Named more than once, kept once: {rows}.")
    return _to_meeting(result.meeting)


@action
async def add_sender_form(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    code = str(request.path_params["code"]).upper()
    address = forms.text(form, "address")

    def work() -> str:
        return add_sender(ctx.ready(), mission_code=code, address=address, actor=user)

    try:
        entry = await run_in_threadpool(work)
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    except ActionError as error:
        extra = {"error": f"Nothing was changed: {error}.", "address": address}
        return await mission_page(request, code, status_code=400, extra=extra)
    log.info("%s added sender %s to %s", user, entry, code)
    flash(request, "ok", f"{entry} may now send statements for {code}.")
    return _to_mission(code)


@action
async def remove_sender_form(request: Request, user: str, form: FormData) -> Response:
    ctx = context_of(request)
    code = str(request.path_params["code"]).upper()
    address = forms.text(form, "address")

    def work() -> str:
        return remove_sender(ctx.ready(), mission_code=code, address=address, actor=user)

    try:
        entry = await run_in_threadpool(work)
    except NotFound as error:
        flash(request, "error", f"Nothing was changed: {error}.")
        return _to_mission(code)
    except ActionError as error:
        flash(request, "error", f"Nothing was changed: {error}.")
        return _to_mission(code)
    log.info("%s removed sender %s from %s", user, entry, code)
    flash(request, "ok", f"{entry} removed from {code}: it can no longer send for it.")
    return _to_mission(code)
