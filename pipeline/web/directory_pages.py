"""The dashboard's directory pages (GET): a meeting (its form, its list of speakers), the
form for a new meeting, the missions and one mission with its sender addresses.

The same pages are rendered again by `directory_actions` with a form's error (status
400), so the desk sees what it typed next to the one sentence saying what to fix.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from pipeline.desk.meetings import deadline_warning
from pipeline.desk.speakers import list_speakers
from pipeline.desk.views import NotFound, find_meeting, list_missions, mission_detail
from pipeline.web.context import context_of, read
from pipeline.web.guards import page
from pipeline.web.meeting_form import FORMATS, shown
from pipeline.web.rendering import error_page, render

__all__ = ["meeting", "meeting_page", "mission", "mission_page", "missions", "new_meeting"]

NEW_MEETING = {
    "code": "",
    "title": "",
    "date": "",
    "deadline": "",
    "word_limit": "500",
    "format": "in_person",
    "president": "",
    "presidency": "",
    "briefers": "",
    "procedure": "",
}


def configured_codes(request: Request) -> set[str]:
    """The meetings of the configuration file: edited there, not here."""
    return {entry.code for entry in context_of(request).settings.meetings}


def _meeting_data(session: Session, code: str, configured: set[str]) -> dict[str, Any]:
    found = find_meeting(session, code)
    return {
        "meeting": found,
        "deadline": found.deadline.astimezone(ZoneInfo(found.timezone)),
        "values": shown(found),
        "speakers": list_speakers(session, found.code),
        "configured": found.code in configured,
        "warning": deadline_warning(found),
    }


async def meeting_page(
    request: Request,
    code: str,
    *,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The meeting's page; `extra` carries a form's error and the values typed."""
    configured = configured_codes(request)
    try:
        data = await read(request, lambda s: _meeting_data(s, code, configured))
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    data.update({"formats": FORMATS, "error": None, "upload_error": None, "unknown": []})
    data.update(extra or {})
    return render(request, "meeting.html", data, status_code=status_code)


@page
async def meeting(request: Request, user: str) -> Response:  # noqa: ARG001
    return await meeting_page(request, str(request.path_params["code"]))


def new_meeting_page(
    request: Request, values: dict[str, str], error: str | None = None, status_code: int = 200
) -> Response:
    return render(
        request,
        "meeting_new.html",
        {"values": values, "error": error, "formats": FORMATS},
        status_code=status_code,
    )


@page
async def new_meeting(request: Request, user: str) -> Response:  # noqa: ARG001
    return new_meeting_page(request, dict(NEW_MEETING))


@page
async def missions(request: Request, user: str) -> Response:  # noqa: ARG001
    rows = await read(request, list_missions)
    return render(request, "missions.html", {"rows": rows})


async def mission_page(
    request: Request, code: str, *, status_code: int = 200, extra: dict[str, Any] | None = None
) -> Response:
    try:
        detail = await read(request, lambda s: mission_detail(s, code))
    except NotFound as error:
        return error_page(request, 404, "Not found", str(error))
    data: dict[str, Any] = {"m": detail, "error": None, "address": ""}
    data.update(extra or {})
    return render(request, "mission.html", data, status_code=status_code)


@page
async def mission(request: Request, user: str) -> Response:  # noqa: ARG001
    return await mission_page(request, str(request.path_params["code"]))
